// Local logs: written as JSON lines by the emulator's writer, read back with since/filter, and
// followed (tail) until the signal aborts, as `imgfn logs --local --follow` does.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseSince } from "../../src/commands/logs.js";
import { LocalLogSource, LogWriter } from "../../src/local/logs.js";
import type { LogEvent } from "../../src/target.js";

let dir: string;
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("local logs", () => {
  it("reads with since and filter, then follows new events until aborted", async () => {
    dir = await mkdtemp(join(tmpdir(), "imgfn-logs-"));
    const writer = new LogWriter(dir);
    writer.write({ timestamp: 1000, message: "START RequestId: old\n", logStreamName: "s" });
    writer.write({ timestamp: Date.now(), message: "START RequestId: a Version: $LATEST\n", logStreamName: "s" });
    writer.write({ timestamp: Date.now(), message: "REPORT RequestId: a\tDuration: 1.00 ms\n", logStreamName: "s" });
    const source = new LocalLogSource(dir, 20);
    const once: LogEvent[] = [];
    for await (const e of source.events({ since: 2000, filter: "RequestId: a" })) once.push(e);
    expect(once.map((e) => e.message.split(" ")[0])).toEqual(["START", "REPORT"]);

    const controller = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const e of source.events({ since: 2000, filter: "REPORT", follow: true, signal: controller.signal })) {
        seen.push(e.message);
        if (seen.length === 2) controller.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    writer.write({ timestamp: Date.now(), message: "REPORT RequestId: b\tDuration: 2.00 ms\n", logStreamName: "s" });
    await following;
    expect(seen).toEqual(["REPORT RequestId: a\tDuration: 1.00 ms\n", "REPORT RequestId: b\tDuration: 2.00 ms\n"]);
    writer.close();
  });

  it("parses --since durations and times, and rejects nonsense", () => {
    expect(parseSince("10m", 1_000_000)).toBe(400_000);
    expect(parseSince("2h", 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parseSince("2024-05-01T00:00:00Z")).toBe(Date.UTC(2024, 4, 1));
    expect(() => parseSince("yesterday-ish")).toThrow(/--since must be a duration/);
    // a number without a unit is not silently read as a date (Date.parse("10") is October 2001)
    expect(() => parseSince("10")).toThrow(/--since must be a duration/);
    expect(() => parseSince("2024")).toThrow(/--since must be a duration/);
  });
});
