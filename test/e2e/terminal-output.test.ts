/**
 * The built CLI under a pseudo-terminal, as CI runners, `docker run -t` and `script -qc` give it:
 * a terminal reporting 0 columns, one of 80, and CI=true. Spinners must not run away (the
 * regression: megabytes of cursor-up escapes until killed), and tables must fit the width.
 */
import { describe, expect, it } from "vitest";
import { imgfnUnderPty } from "../helpers/pty.js";
import { repoRoot } from "./helpers.js";

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
const lines = (s: string) => plain(s).split("\n");

// A one-line result plus a few spinner frames is well under this; the runaway wrote 5.9 MB.
const BOUND = 64 * 1024;

describe("output under a pseudo-terminal", () => {
  it("predict on a 0-column terminal prints plain lines and finishes", async () => {
    const r = await imgfnUnderPty(["predict", "samples/cat.jpg"], { columns: 0, cwd: repoRoot, timeoutSeconds: 60 });
    expect(r.killed).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(r.bytes).toBeLessThan(BOUND);
    expect(r.output).not.toContain("\x1b[1A"); // no cursor-up redraws
    expect(plain(r.output)).toMatch(/✔ Loading model: mobilenetv2-12-int8/);
    expect(plain(r.output)).toMatch(/Egyptian cat|tabby/);
  });

  it("predict with CI=true on an 80-column terminal does not animate either", async () => {
    const r = await imgfnUnderPty(["predict", "samples/cat.jpg"], { columns: 80, cwd: repoRoot, env: { CI: "true" } });
    expect(r.exitCode).toBe(0);
    expect(r.bytes).toBeLessThan(BOUND);
    expect(r.output).not.toContain("\x1b[?25l"); // ora hides the cursor only when it animates
  });

  it("demo on a 0-column terminal ends, with bounded output and plain progress", async () => {
    const r = await imgfnUnderPty(["demo"], { columns: 0, cwd: repoRoot, timeoutSeconds: 120 });
    expect(r.killed).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(r.bytes).toBeLessThan(BOUND);
    expect(plain(r.output)).toContain("✔ Stopping the local stack: no processes left running");
  }, 150_000);

  it("on an 80-column terminal a spinner runs, and --top 2000 rows fit in 80 columns, aligned, long labels cut with …", async () => {
    const r = await imgfnUnderPty(["predict", "samples/cat.jpg", "--top", "2000"], { columns: 80, cwd: repoRoot });
    expect(r.exitCode).toBe(0);
    expect(r.bytes).toBeLessThan(1024 * 1024);
    expect(r.output).toContain("\x1b[?25l"); // a width is known and CI is unset: the spinner animates
    const rows = lines(r.output).filter((l) => /^\s+\d+\.\s/.test(l));
    expect(rows.length).toBe(1000); // every class, once
    for (const row of rows) expect([...row].length).toBeLessThanOrEqual(80);
    // ranks and scores right-aligned: the label column starts at the same place on every row
    const labelStart = new Set(rows.map((row) => row.search(/%\s+\S/)));
    expect(labelStart.size).toBe(1);
    expect(rows.some((row) => row.includes("…"))).toBe(true);
    expect(rows.find((row) => /^\s+1000\./.test(row))).toBeDefined();
  });
});
