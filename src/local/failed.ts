/**
 * The local failed store: what the emulator could not process after its retries, one JSON file
 * per event under <stack root>/failed/ (the local stand-in for the deployed function's SQS
 * failure queue). `imgfn dev` writes it; `imgfn failed --local` and `imgfn retry --local` read it,
 * with or without a running stack. One file per entry: a write and a delete never race on a
 * shared file, and a reader never sees half an entry (written beside, then renamed).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeEvent, type FailedEvent, type FailedEventSource } from "../pipeline/failures.js";
import type { FailedInvocation } from "./emulator.js";

export const failedStoreDir = (stackRoot: string) => join(stackRoot, "failed");

interface StoredEntry {
  id: string;
  key?: string;
  errorType: string;
  errorMessage: string;
  attempts: number;
  lastFailure: string;
  functionName?: string;
  event: unknown;
}

export class LocalFailedStore implements FailedEventSource {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = `local failed store ${dir}`;
  }

  /** Records one event the emulator gave up on. */
  add(failure: FailedInvocation, functionName?: string): FailedEvent {
    mkdirSync(this.dir, { recursive: true });
    const entry: StoredEntry = {
      id: failure.requestId,
      key: describeEvent(failure.event).keys[0],
      errorType: failure.error.errorType,
      errorMessage: failure.error.errorMessage,
      attempts: failure.attempts,
      lastFailure: failure.at,
      functionName,
      event: failure.event,
    };
    const file = this.file(entry.id);
    const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry, null, 2) + "\n");
    renameSync(tmp, file);
    return toFailedEvent(entry);
  }

  async list(): Promise<FailedEvent[]> {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith(".json"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const entries: FailedEvent[] = [];
    for (const name of names) {
      try {
        entries.push(toFailedEvent(JSON.parse(readFileSync(join(this.dir, name), "utf8")) as StoredEntry));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // removed meanwhile
        throw new Error(`${join(this.dir, name)} is not a failed-event record (${(err as Error).message}); move it away to continue`, { cause: err });
      }
    }
    return entries.sort((a, b) => a.lastFailure.localeCompare(b.lastFailure) || a.id.localeCompare(b.id));
  }

  async remove(entry: FailedEvent): Promise<void> {
    rmSync(this.file(entry.id), { force: true });
  }

  async release(): Promise<void> {
    // nothing is held locally
  }

  private file(id: string): string {
    // request ids are UUIDs; anything else is made safe for a file name
    return join(this.dir, `${id.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
  }
}

function toFailedEvent(e: StoredEntry): FailedEvent {
  const { keys, bucket, eTag } = describeEvent(e.event);
  return { id: e.id, keys, bucket, eTag, errorType: e.errorType, errorMessage: e.errorMessage, attempts: e.attempts, lastFailure: e.lastFailure, event: e.event };
}
