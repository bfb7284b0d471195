// `imgfn results --local` against the real local stack (`imgfn dev` as a child process, the real
// model): newest first, --errors, --label, --since, --json, width-aware rows, one result in full.
import { execa } from "execa";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultApp } from "../../src/config.js";
import { displayWidth } from "../../src/ui/width.js";
import { startDev, type DevProcess } from "../helpers/dev.js";
import { bin, cliEnv, imgfn, sample } from "./helpers.js";

let project: string;
let dev: DevProcess;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "imgfn-e2e-results-"));
  dev = await startDev(project);
  await writeFile(join(project, "broken.jpg"), "this is not a JPEG");
  // one at a time, so "newest first" has an order to check
  expect((await imgfn(["upload", "--local", sample("cat.jpg")], project)).exitCode).toBe(0);
  expect((await imgfn(["upload", "--local", sample("espresso.jpg")], project)).exitCode).toBe(0);
  // bad input gets an error result (and upload says so with exit 1)
  expect((await imgfn(["upload", "--local", "broken.jpg"], project)).exitCode).toBe(1);
  expect((await imgfn(["upload", "--local", "--prefix", "uploads/a rather long folder name/that goes on and on/", sample("cat.jpg")], project)).exitCode).toBe(0);
});

afterAll(async () => {
  await dev?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

const json = async (args: string[]) => {
  const res = await imgfn(["--json", "results", "--local", ...args], project);
  expect(res.stderr).toBe("");
  expect(res.exitCode).toBe(0);
  return JSON.parse(res.stdout); // one document, nothing else on stdout
};

describe("imgfn results --local", () => {
  it("lists every result newest first, with top-1, error code and function time", async () => {
    const doc = await json([]);
    expect(doc.results.map((r: any) => r.key)).toEqual(["uploads/a rather long folder name/that goes on and on/cat.jpg", "uploads/broken.jpg", "uploads/espresso.jpg", "uploads/cat.jpg"]);
    expect(doc).toMatchObject({ bucket: `imgfn-${defaultApp(project)}-local`, prefix: "results/", listed: 4, count: 4 });
    const [, broken, espresso, cat] = doc.results;
    expect(cat.top1.label).toMatch(/cat/i);
    expect(espresso.top1.label).toMatch(/espresso/i);
    expect(broken).toMatchObject({ status: "error", error: { code: "NOT_AN_IMAGE" } });
    for (const r of doc.results) expect(r.functionMs).toBeGreaterThan(0);
  });

  it("--errors keeps only the bad input; --label filters by the top-1 label; --limit keeps the newest", async () => {
    expect((await json(["--errors"])).results.map((r: any) => [r.key, r.error.code])).toEqual([["uploads/broken.jpg", "NOT_AN_IMAGE"]]);
    expect((await json(["--label", "ESPRESSO"])).results.map((r: any) => r.key)).toEqual(["uploads/espresso.jpg"]);
    expect((await json(["--limit", "2"])).results.map((r: any) => r.key)).toEqual(["uploads/a rather long folder name/that goes on and on/cat.jpg", "uploads/broken.jpg"]);
    expect((await json(["--since", "1h"])).count).toBe(4);
    expect((await json(["--prefix", "results/a rather"])).count).toBe(1);
  });

  it("nothing since a future time: no rows, exit 0, and it says so on stderr", async () => {
    const res = await imgfn(["results", "--local", "--since", new Date(Date.now() + 3_600_000).toISOString()], project);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toBe("");
    expect(res.stderr).toContain(`no results under s3://imgfn-${defaultApp(project)}-local/results/`);
  });

  it("rows fit the terminal width: cells are cut with an ellipsis, never wrapped", async () => {
    for (const columns of [40, 72, 120]) {
      const res = await execa("node", [bin, "results", "--local"], { cwd: project, env: { ...cliEnv(), COLUMNS: String(columns) }, extendEnv: false, reject: false });
      expect(res.exitCode).toBe(0);
      const lines = res.stdout.split("\n");
      expect(lines).toHaveLength(5); // header + 4 rows
      for (const line of lines) expect(displayWidth(line), `${line} (${columns} columns)`).toBeLessThanOrEqual(columns);
      if (columns < 80) expect(lines.some((l) => l.includes("…"))).toBe(true);
      expect(lines[2]).toContain(columns >= 72 ? "NOT_AN_IMAGE" : "NOT_AN");
      expect(lines[2], "the when column is never cut").toMatch(/\d+[smhd] ago$/);
    }
  });

  it("`imgfn results <key>` shows one result in full with top-k bars matching its scores", async () => {
    const full = await json(["uploads/cat.jpg"]);
    expect(full.key).toBe("uploads/cat.jpg");
    expect(full.predictions).toHaveLength(5);
    const res = await imgfn(["results", "--local", "results/cat.jpg.json"], project);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("image      uploads/cat.jpg");
    const bars = res.stdout.split("\n").filter((l) => l.includes("█") || l.includes("░"));
    expect(bars).toHaveLength(5);
    bars.forEach((line, i) => {
      const p = full.predictions[i];
      expect(line).toContain(`${(p.score * 100).toFixed(1)}%`);
      const filled = [...line].filter((ch) => ch === "█").length;
      const width = filled + [...line].filter((ch) => ch === "░").length;
      expect(filled).toBe(Math.round(p.score * width));
    });
    const missing = await imgfn(["results", "--local", "uploads/never-uploaded.jpg"], project);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`no result at s3://imgfn-${defaultApp(project)}-local/results/never-uploaded.jpg.json`);
  });

  it("without a running dev it says how to start one (exit 1)", async () => {
    const other = await mkdtemp(join(tmpdir(), "imgfn-e2e-results-none-"));
    try {
      const res = await imgfn(["results", "--local"], other);
      expect(res.exitCode).toBe(1);
      expect(res.stderr).toContain("no local stack is running");
      expect(res.stderr).toMatch(/imgfn(\.js)? dev/); // the hint names the invocation that runs here
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
