/**
 * A bucket's object index on disk: an append-only journal, one JSON line per commit
 * ({"put": meta} or {"delete": key}). Appending the line is the commit of a write whose bytes are
 * already in their data file. Appends are synchronous writes of one short line: in call order, so
 * the journal's order is the order the index changed in, and with no hand-off to libuv's thread
 * pool (whose wake-ups cost more CPU than the write itself). At start the journal is replayed (a
 * line cut short by a crash is ignored) and rewritten compacted.
 */
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";

export type JournalEntry<T> = { put: T } | { delete: string };

export class Journal<T extends { key: string }> {
  private fd = -1;
  private lines = 0;

  private constructor(
    private readonly path: string,
    private readonly live: () => Iterable<T>,
  ) {}

  /** Replays the journal into `apply`, compacts it, and opens it for appending. */
  static async open<T extends { key: string }>(path: string, apply: (e: JournalEntry<T>) => void, live: () => Iterable<T>): Promise<Journal<T>> {
    const text = await readFile(path, "utf8").catch(() => "");
    for (const line of text.split("\n")) {
      if (!line) continue;
      let entry: JournalEntry<T>;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // the last line of a crashed write
      }
      apply(entry);
    }
    const journal = new Journal<T>(path, live);
    journal.compact();
    return journal;
  }

  /** Rewrites the journal as one put per live object (temp file + rename). */
  private compact(): void {
    const body = [...this.live()].map((m) => JSON.stringify({ put: m })).join("\n");
    writeFileSync(`${this.path}.compacting`, body ? `${body}\n` : "");
    renameSync(`${this.path}.compacting`, this.path);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = openSync(this.path, "a");
    this.lines = 0;
  }

  /** Appends an entry (written when this returns). */
  append(entry: JournalEntry<T>, liveCount: number): void {
    if (this.fd < 0) throw new Error(`the journal ${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    // replaced and deleted objects leave dead lines: compact once they outnumber the live ones
    if (++this.lines > 2 * liveCount + 1000) this.compact();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
