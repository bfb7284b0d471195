/** The per-file classification table `predict` and `classify` print (and its JSON record). */
import type { Prediction } from "../../handler/classify.js";
import { formatMs, type Output } from "./output.js";

/** A file that cannot be read becomes a result with an error (the other files still run), or undefined. */
export function fileReadError(err: unknown, file: string): FileResult["error"] | undefined {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") return { code: "FILE_NOT_FOUND", message: `no such file: ${file}` };
  if (code === "EISDIR") return { code: "IS_A_DIRECTORY", message: `${file} is a folder; pass image files` };
  return undefined;
}

export interface FileResult {
  file: string;
  predictions?: Prediction[];
  image?: { format: string; width: number; height: number };
  timings?: { preprocess: number; inference: number; [stage: string]: number };
  error?: { code: string; message: string };
}

export function printFileResults(out: Output, results: FileResult[]): void {
  const { c } = out;
  for (const r of results) {
    if (r.error) {
      out.print(`${c.bold(r.file)}  ${c.red(r.error.code)}: ${r.error.message}`);
      continue;
    }
    const t = r.timings!;
    out.print(`${c.bold(r.file)}  ${c.dim(`${r.image!.width}x${r.image!.height} ${r.image!.format}, preprocess ${formatMs(t.preprocess)}, inference ${formatMs(t.inference)}`)}`);
    out.print(out.table(r.predictions!.map((p, i) => [`${i + 1}.`, (p.score * 100).toFixed(1) + "%", p.label, c.dim(`#${p.index}`)]), { indent: 2, right: [0, 1], shrink: [2] }));
  }
}
