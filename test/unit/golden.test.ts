import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareGolden, type GoldenFile } from "../../src/golden/golden.js";
import { runCli } from "../helpers/cli.js";
import { bgrManifest, goldenFolder } from "../helpers/golden.js";
import { referencePython } from "../helpers/python.js";

const golden = (scores: [number, number][]): GoldenFile => ({
  version: 1,
  source: "function",
  createdAt: "2026-01-01T00:00:00Z",
  model: { id: "m", sha256: null },
  topK: 5,
  files: scores.map(([index, score], i) => ({ file: `${i}.jpg`, sha256: "0".repeat(64), top: [{ index, label: `class ${index}`, score }] })),
});

describe("compareGolden", () => {
  it("passes when every top-1 is the same class within the tolerance", () => {
    const r = compareGolden(golden([[1, 0.5], [2, 0.9]]), [{ predictions: [{ index: 1, label: "a", score: 0.52 }] }, { predictions: [{ index: 2, label: "b", score: 0.9 }] }], 0.03);
    expect(r).toMatchObject({ passed: true, top1Agreement: 1, maxDeltaP: 0.02 });
  });

  it("a changed top-1, a Δp past the tolerance and an error answer each move their file", () => {
    const r = compareGolden(
      golden([[1, 0.5], [2, 0.9], [3, 0.8], [4, 0.7]]),
      [
        { predictions: [{ index: 9, label: "x", score: 0.6 }, { index: 1, label: "a", score: 0.3 }] },
        { predictions: [{ index: 2, label: "b", score: 0.8 }] },
        { error: { code: "CORRUPT_IMAGE", message: "bad" } },
        { predictions: [{ index: 4, label: "d", score: 0.71 }] },
      ],
      0.03,
    );
    expect(r.passed).toBe(false);
    expect(r.rows.map((row) => [row.moved, row.why])).toEqual([
      [true, "top-1 changed"],
      [true, "|Δp| 0.1000 > 0.03"],
      [true, "CORRUPT_IMAGE: bad"],
      [false, undefined],
    ]);
    expect(r.rows[0].deltaP).toBe(0.2); // p(class 1) went from 0.5 to 0.3
    expect(r.top1Agreement).toBe(0.5);
  });

  it("when the golden class left the answer's top-k, its probability counts as 0", () => {
    const r = compareGolden(golden([[1, 0.5]]), [{ predictions: [{ index: 7, label: "x", score: 0.6 }, { index: 8, label: "y", score: 0.1 }] }]);
    expect(r.rows[0]).toMatchObject({ deltaP: 0.5, moved: true, why: "top-1 changed; the golden class left the top-k" });
  });
});

describe("imgfn golden make → imgfn predict --golden", () => {
  it("a golden set made from the function passes on the same function (exit 0)", async () => {
    const { dir, images } = await goldenFolder();
    const out = join(dir, "golden.json");
    const made = await runCli(["golden", "make", ...images, "--output", out, "--json"]);
    expect(made.code, made.stderr).toBe(0);
    const doc = JSON.parse(await readFile(out, "utf8"));
    expect(doc).toMatchObject({ version: 1, source: "function", model: { id: "mobilenetv2-12-int8", sha256: "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f" }, topK: 5 });
    expect(doc.files.map((f: any) => f.file)).toEqual(["cat.jpg", "espresso.jpg"]); // relative to the golden file
    expect(doc.files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.files[1].top[0]).toMatchObject({ index: 967, label: "espresso" });
    const check = await runCli(["predict", "--golden", out]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/golden check: top-1 agreement 100\.0% \(2\/2\), max \|Δp\| 0\.0000/);
  });

  it("a deliberately different preprocessing fails (exit 1) with the table of the files that moved", async () => {
    const { dir, images } = await goldenFolder();
    const out = join(dir, "golden.json");
    expect((await runCli(["golden", "make", ...images, "-o", out])).code).toBe(0);
    const r = await runCli(["predict", "--golden", out, "--model", await bgrManifest(dir)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/file\s+golden top-1\s+now top-1\s+\|Δp\|\s+why/);
    expect(r.stdout).toMatch(/espresso\.jpg\s+espresso \(41\.6%\)\s+strainer \(\d+\.\d%\)\s+0\.\d{4}\s+top-1 changed/);
    expect(r.stderr).toMatch(/golden check failed: \d of 2 files moved past the tolerance \(0\.03\)/);
    const json = JSON.parse((await runCli(["predict", "--golden", out, "--model", await bgrManifest(dir), "--json"])).stdout);
    expect(json.golden.passed).toBe(false);
    expect(json.golden.rows.find((row: any) => row.file === "espresso.jpg").moved).toBe(true);
  });

  it("--tolerance widens what counts as the same answer, but a changed top-1 always moves", async () => {
    const { dir, images } = await goldenFolder();
    const out = join(dir, "golden.json");
    await runCli(["golden", "make", images[0], "-o", out]);
    const r = await runCli(["predict", "--golden", out, "--model", await bgrManifest(dir), "--tolerance", "0.5"]);
    expect(r.code, r.stdout).toBe(0); // the cat stays an Egyptian cat, with a higher probability
  });

  it("an image that changed since the golden file was made is refused, naming it", async () => {
    const { dir, images } = await goldenFolder();
    const out = join(dir, "golden.json");
    await runCli(["golden", "make", ...images, "-o", out]);
    await writeFile(images[0], await readFile(images[1]));
    const r = await runCli(["predict", "--golden", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/golden image cat\.jpg is not the file the golden set recorded/);
  });

  it("bad golden files and flags are configuration errors (exit 2)", async () => {
    const { dir } = await goldenFolder();
    await writeFile(join(dir, "bad.json"), JSON.stringify({ version: 1, files: [] }));
    expect((await runCli(["predict", "--golden", join(dir, "bad.json")])).stderr).toMatch(/"files" must list at least one image/);
    expect((await runCli(["predict", "--golden", join(dir, "missing.json")])).code).toBe(2);
    expect((await runCli(["predict", "--golden", join(dir, "bad.json"), "--tolerance", "2"])).code).toBe(2);
    expect((await runCli(["predict"])).stderr).toMatch(/pass image files to classify, or --golden/);
  });

  it("images the function cannot classify cannot be golden", async () => {
    const { dir } = await goldenFolder();
    await writeFile(join(dir, "notes.jpg"), "not an image");
    const r = await runCli(["golden", "make", join(dir, "notes.jpg"), "-o", join(dir, "g.json")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/notes\.jpg \(NOT_AN_IMAGE\)/);
  });
});

const py = await referencePython();
describe.skipIf("skip" in py)(`a golden set from the reference pipeline${"skip" in py ? ` (skipped: ${py.skip})` : ""}`, () => {
  it("golden make --from reference writes the same format, and the function passes it", async () => {
    const { dir, images } = await goldenFolder();
    const out = join(dir, "golden.json");
    const made = await runCli(["golden", "make", ...images, "-o", out, "--from", "reference", "--python", (py as { python: string }).python]);
    expect(made.code, made.stderr).toBe(0);
    const doc = JSON.parse(await readFile(out, "utf8"));
    expect(doc.source).toBe("reference");
    expect(doc.files.map((f: any) => f.file)).toEqual(["cat.jpg", "espresso.jpg"]);
    const check = await runCli(["predict", "--golden", out, "--json"]);
    expect(check.code, check.stdout).toBe(0);
    expect(JSON.parse(check.stdout).golden).toMatchObject({ passed: true, top1Agreement: 1, maxDeltaP: 0 });
  });
});
