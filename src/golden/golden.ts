/**
 * Golden files: what each of a set of images must answer (top-k indices and probabilities, the
 * file's sha256, the model's id and sha256), recorded from the reference pipeline
 * (reference/classify.py --golden) or from imgfn's own function (`imgfn golden make`), and checked
 * against the function that will serve them (`predict --golden`, `demo --golden`,
 * `deploy --golden`). One format, written by both; one comparison, used by all three.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ConfigError, UserError } from "../errors.js";
import { table } from "../ui/output.js";

export interface GoldenPrediction {
  index: number;
  label: string;
  score: number;
}

export interface GoldenEntry {
  /** Relative to the golden file's folder (or absolute). */
  file: string;
  sha256: string;
  top: GoldenPrediction[];
}

export interface GoldenFile {
  version: 1;
  /** "reference" (reference/classify.py) or "function" (imgfn's function, `imgfn golden make`). */
  source: "reference" | "function";
  createdAt: string;
  model: { id: string; sha256: string | null };
  preprocess?: Record<string, unknown>;
  topK: number;
  files: GoldenEntry[];
}

/** The largest |Δp(top-1)| a file may show and still count as answering the same. */
export const DEFAULT_GOLDEN_TOLERANCE = 0.03;

export const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export async function readGolden(path: string): Promise<GoldenFile> {
  let raw: any;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === "ENOENT" ? `golden file not found: ${path}` : `golden file ${path} is not valid JSON (${(err as Error).message})`, {
      hint: "make one with: imgfn golden make <images…> --output golden.json",
    });
  }
  const bad = (what: string) => new ConfigError(`golden file ${path}: ${what}`, { hint: "make it again with: imgfn golden make <images…> --output golden.json" });
  if (raw?.version !== 1) throw bad(`"version" must be 1`);
  if (!Array.isArray(raw.files) || raw.files.length === 0) throw bad(`"files" must list at least one image`);
  for (const [i, f] of raw.files.entries()) {
    if (typeof f?.file !== "string" || !/^[0-9a-f]{64}$/.test(f?.sha256 ?? "")) throw bad(`files[${i}] needs "file" and a 64-hex-digit "sha256"`);
    if (!Array.isArray(f.top) || f.top.length === 0 || !f.top.every((p: any) => Number.isInteger(p?.index) && typeof p?.score === "number")) {
      throw bad(`files[${i}] ("${f.file}") needs "top": [{index, label, score}, …]`);
    }
  }
  if (typeof raw.model?.id !== "string") throw bad(`"model.id" must be a string`);
  return raw as GoldenFile;
}

/** The golden's image paths, absolute (relative entries are relative to the golden file). */
export function goldenPaths(golden: GoldenFile, goldenPath: string): string[] {
  const dir = dirname(resolve(goldenPath));
  return golden.files.map((f) => (isAbsolute(f.file) ? f.file : join(dir, f.file)));
}

/** Reads each golden image and checks it is still the file that was recorded. */
export async function readGoldenImages(golden: GoldenFile, goldenPath: string): Promise<Uint8Array[]> {
  const paths = goldenPaths(golden, goldenPath);
  return Promise.all(
    paths.map(async (path, i) => {
      const bytes = await readFile(path).catch((err) => {
        throw new UserError(`golden image ${golden.files[i].file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`, {
          hint: `keep the images beside the golden file (${goldenPath}) as it names them, or make it again`,
        });
      });
      if (sha256Hex(bytes) !== golden.files[i].sha256) {
        throw new UserError(`golden image ${golden.files[i].file} is not the file the golden set recorded (sha256 differs)`, {
          hint: "restore the original image, or make the golden file again: imgfn golden make …",
        });
      }
      return bytes;
    }),
  );
}

/** One image's answer from the function under test. */
export interface Answer {
  predictions?: GoldenPrediction[];
  error?: { code: string; message: string };
}

export interface GoldenRow {
  file: string;
  expected: GoldenPrediction;
  actual?: GoldenPrediction;
  /** |p(golden top-1 class) now − then|; when that class left the answer's top-k, p now counts as 0. */
  deltaP?: number;
  moved: boolean;
  why?: string;
}

export interface GoldenReport {
  files: number;
  top1Agreement: number;
  maxDeltaP: number;
  meanDeltaP: number;
  tolerance: number;
  passed: boolean;
  model: { golden: GoldenFile["model"]; actual?: { id: string; sha256: string | null } };
  rows: GoldenRow[];
}

export function compareGolden(
  golden: GoldenFile,
  answers: Answer[],
  tolerance = DEFAULT_GOLDEN_TOLERANCE,
  actualModel?: { id: string; sha256: string | null },
): GoldenReport {
  const rows: GoldenRow[] = golden.files.map((entry, i) => {
    const expected = entry.top[0];
    const answer = answers[i];
    if (!answer?.predictions?.length) {
      return { file: entry.file, expected, moved: true, why: answer?.error ? `${answer.error.code}: ${answer.error.message}` : "no answer" };
    }
    const actual = answer.predictions[0];
    const same = answer.predictions.find((p) => p.index === expected.index);
    // a class outside the top-k has an unknown, small probability: counting it as 0 errs towards "moved"
    const deltaP = same ? Math.abs(same.score - expected.score) : expected.score;
    const top1Changed = actual.index !== expected.index;
    const moved = top1Changed || deltaP > tolerance;
    const why = top1Changed ? (same ? "top-1 changed" : "top-1 changed; the golden class left the top-k") : moved ? `|Δp| ${deltaP.toFixed(4)} > ${tolerance}` : undefined;
    return { file: entry.file, expected, actual, deltaP: round6(deltaP), moved, why };
  });
  const deltas = rows.map((r) => r.deltaP ?? 1);
  const agree = rows.filter((r) => r.actual && r.actual.index === r.expected.index).length;
  return {
    files: rows.length,
    top1Agreement: round6(agree / rows.length),
    maxDeltaP: round6(Math.max(...deltas)),
    meanDeltaP: round6(deltas.reduce((a, b) => a + b, 0) / deltas.length),
    tolerance,
    passed: rows.every((r) => !r.moved),
    model: { golden: golden.model, actual: actualModel },
    rows,
  };
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
const pct = (p: number) => `${(p * 100).toFixed(1)}%`;

/** The summary line and, when anything moved, the table of the files that moved. */
export function renderGoldenReport(report: GoldenReport): string {
  const lines = [
    `golden check: top-1 agreement ${pct(report.top1Agreement)} (${report.rows.filter((r) => r.actual?.index === r.expected.index).length}/${report.files}), max |Δp| ${report.maxDeltaP.toFixed(4)}, mean |Δp| ${report.meanDeltaP.toFixed(4)}, tolerance ${report.tolerance}`,
  ];
  const { golden, actual } = report.model;
  if (actual && (actual.id !== golden.id || (golden.sha256 && actual.sha256 && actual.sha256 !== golden.sha256))) {
    lines.push(`model: golden set recorded with ${golden.id} (${golden.sha256?.slice(0, 12) ?? "?"}…), checked against ${actual.id} (${actual.sha256?.slice(0, 12) ?? "?"}…)`);
  }
  const moved = report.rows.filter((r) => r.moved);
  if (moved.length) {
    lines.push(`${moved.length} of ${report.files} file${report.files > 1 ? "s" : ""} moved:`);
    const head = ["file", "golden top-1", "now top-1", "|Δp|", "why"];
    const body = moved.map((r) => [
      r.file,
      `${r.expected.label ?? `#${r.expected.index}`} (${pct(r.expected.score)})`,
      r.actual ? `${r.actual.label} (${pct(r.actual.score)})` : "-",
      r.deltaP !== undefined ? r.deltaP.toFixed(4) : "-",
      r.why ?? "",
    ]);
    lines.push(table([head, ...body], { indent: 2 }));
  }
  return lines.join("\n");
}

/** Exit 1 with the table already printed: the function no longer answers as the golden set says. */
export class GoldenMismatch extends UserError {
  constructor(readonly report: GoldenReport) {
    const moved = report.rows.filter((r) => r.moved).length;
    super(`golden check failed: ${moved} of ${report.files} file${report.files > 1 ? "s" : ""} moved past the tolerance (${report.tolerance})`, {
      hint: "if the change is intended (a new model or preprocessing), make the golden file again: imgfn golden make …; otherwise compare with: imgfn predict --golden <file>",
      resultStands: true,
    });
    this.name = "GoldenMismatch";
  }
}

export function makeGolden(
  paths: string[],
  images: Uint8Array[],
  answers: GoldenPrediction[][],
  opts: { output: string; source: GoldenFile["source"]; model: { id: string; sha256: string | null }; preprocess?: Record<string, unknown>; topK: number },
): GoldenFile {
  const dir = dirname(resolve(opts.output));
  return {
    version: 1,
    source: opts.source,
    createdAt: new Date().toISOString(),
    model: opts.model,
    preprocess: opts.preprocess,
    topK: opts.topK,
    files: paths.map((path, i) => ({ file: relative(dir, resolve(path)), sha256: sha256Hex(images[i]), top: answers[i] })),
  };
}

export async function writeGolden(path: string, golden: GoldenFile): Promise<void> {
  await writeFile(path, JSON.stringify(golden, null, 2) + "\n");
}
