/**
 * A bucket's object index on disk: an append-only journal, one JSON line per commit
 * ({"put": meta} or {"delete": key}). Appending the line is the commit of a write whose bytes are
 * already in their data file: one write() instead of a sidecar's open, write, close and rename.
 * Appends are serialized, so the journal's order is the order the index changed in. At start the
 * journal is replayed (a line cut short by a crash is ignored) and rewritten compacted.
 */
import { close, open, write } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { promisify } from "node:util";

const openFd = promisify(open);
const writeFd = promisify(write) as (fd: number, data: string) => Promise<unknown>;
const closeFd = promisify(close);

export type JournalEntry<T> = { put: T } | { delete: string };

export class Journal<T extends { key: string }> {
  private tail: Promise<unknown> = Promise.resolve();
  private lines = 0;

  private constructor(
    private readonly path: string,
    private fd: number,
    private live: () => Iterable<T>,
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
    const journal = new Journal<T>(path, -1, live);
    await journal.compact();
    return journal;
  }

  /** Rewrites the journal as one put per live object (temp file + rename). */
  private async compact(): Promise<void> {
    const body = [...this.live()].map((m) => JSON.stringify({ put: m })).join("\n");
    await writeFile(`${this.path}.compacting`, body ? `${body}\n` : "");
    await rename(`${this.path}.compacting`, this.path);
    if (this.fd >= 0) await closeFd(this.fd);
    this.fd = await openFd(this.path, "a");
    this.lines = 0;
  }

  /** Appends an entry; resolves once it is written, in order with every other append. */
  append(entry: JournalEntry<T>, liveCount: number): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    const done = this.tail.then(async () => {
      await writeFd(this.fd, line);
      // replaced and deleted objects leave dead lines: compact once they outnumber the live ones
      if (++this.lines > 2 * liveCount + 1000) await this.compact();
    });
    this.tail = done.catch(() => {});
    return done;
  }

  async close(): Promise<void> {
    await this.tail;
    if (this.fd >= 0) await closeFd(this.fd);
    this.fd = -1;
  }
}
