/**
 * The local stand-in for CloudWatch Logs: one log group per function under
 * .imgfn/local/logs/<function name>/, kept as JSON lines of {timestamp, message, logStreamName}.
 * The emulator appends (one writer, in order); `imgfn logs --local` reads and tails the file.
 */
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { LogEvent, LogQuery, LogSource } from "../target.js";

export const LOG_FILE = "events.jsonl";

export function logGroupDir(logsRoot: string, functionName: string): string {
  return join(logsRoot, functionName);
}

export type LogListener = (event: LogEvent) => void;

/** Appends events for one function; listeners see each event as it is written (dev streams them). */
export class LogWriter {
  private fd: number | undefined;
  private readonly listeners = new Set<LogListener>();
  readonly file: string;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, LOG_FILE);
    this.fd = openSync(this.file, "a");
  }

  write(event: LogEvent): void {
    if (this.fd !== undefined) writeSync(this.fd, JSON.stringify(event) + "\n");
    for (const l of this.listeners) l(event);
  }

  subscribe(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.listeners.clear();
  }
}

/** Reads a local log group; with `follow`, polls the file for new lines like `aws logs tail --follow`. */
export class LocalLogSource implements LogSource {
  constructor(
    readonly dir: string,
    private readonly pollMs = 250,
  ) {}

  async *events(query: LogQuery): AsyncIterable<LogEvent> {
    const file = join(this.dir, LOG_FILE);
    let offset = 0;
    let partial = "";
    const matches = (e: LogEvent) => (query.since === undefined || e.timestamp >= query.since) && (!query.filter || e.message.includes(query.filter));
    for (;;) {
      if (query.signal?.aborted) return;
      if (existsSync(file)) {
        const handle = await open(file, "r");
        try {
          const { size } = await handle.stat();
          if (size < offset) offset = 0; // the file was replaced: start over
          if (size > offset) {
            const buf = Buffer.alloc(size - offset);
            const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
            offset += bytesRead;
            const text = partial + buf.subarray(0, bytesRead).toString("utf8");
            const lines = text.split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
              if (!line.trim()) continue;
              let event: LogEvent;
              try {
                event = JSON.parse(line);
              } catch {
                continue; // a torn line from a crash: skip it
              }
              if (matches(event)) yield event;
            }
          }
        } finally {
          await handle.close();
        }
      }
      if (!query.follow) return;
      try {
        await sleep(this.pollMs, undefined, { signal: query.signal });
      } catch {
        return; // aborted
      }
    }
  }
}
