/** The --golden/--tolerance flags shared by predict, demo and deploy. */
import { type Command, InvalidArgumentError } from "commander";
import { DEFAULT_GOLDEN_TOLERANCE } from "../golden/golden.js";

export function goldenOptions(cmd: Command, what: string): void {
  cmd
    .option("--golden <file>", `golden file (imgfn golden make, or reference/classify.py --golden): ${what}`)
    .option("--tolerance <p>", `largest |Δp(top-1)| a golden image may show (default ${DEFAULT_GOLDEN_TOLERANCE}); its top-1 must not change`, parseTolerance, DEFAULT_GOLDEN_TOLERANCE);
}

function parseTolerance(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`--tolerance must be a probability between 0 and 1, got "${value}"`);
  return n;
}
