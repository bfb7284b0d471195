/** A text progress bar for `n/N` displays (used by StepHandle.progress). */
export function bar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return "▕" + "█".repeat(filled) + "░".repeat(width - filled) + "▏";
}
