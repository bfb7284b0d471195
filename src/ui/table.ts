/**
 * The one table helper: left-aligned columns (right-aligned where asked) that fit the terminal.
 * When the rows are wider than `width`, the columns marked `shrink` give up space first and their
 * cells end in "…"; lines are never wrapped. Widths are terminal columns (width.ts).
 */
import { displayWidth, truncate } from "./width.js";

export interface TableOptions {
  indent?: number;
  /** Total columns available (the terminal width); undefined = no limit. */
  width?: number;
  /** Indexes of the columns that may be truncated (default: the widest column). */
  shrink?: number[];
  /** Indexes of right-aligned columns (numbers). */
  right?: number[];
  /** Gap between columns. */
  gap?: number;
}

const MIN_SHRUNK = 6;

export function table(rows: string[][], opts: TableOptions = {}): string {
  const gap = opts.gap ?? 2;
  const indent = opts.indent ?? 0;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell))));
  const columns = widths.length;
  const total = () => indent + widths.reduce((a, b) => a + b, 0) + gap * Math.max(0, columns - 1);
  if (opts.width !== undefined && total() > opts.width) {
    const widest = widths.indexOf(Math.max(...widths));
    const shrink = (opts.shrink ?? [widest]).filter((i) => i < columns);
    // take from the widest shrinkable column first, one character at a time, down to MIN_SHRUNK
    while (total() > opts.width) {
      const candidates = shrink.filter((i) => widths[i] > MIN_SHRUNK);
      if (candidates.length === 0) break;
      const i = candidates.reduce((a, b) => (widths[b] > widths[a] ? b : a));
      widths[i]--;
    }
  }
  const pad = " ".repeat(indent);
  const right = new Set(opts.right ?? []);
  const lines = rows.map((row) => {
    const cells = row.map((cell, i) => {
      const text = truncate(cell, widths[i]);
      if (i === row.length - 1 && !right.has(i)) return text;
      const fill = " ".repeat(widths[i] - displayWidth(text));
      return right.has(i) ? fill + text : text + fill;
    });
    const line = (pad + cells.join(" ".repeat(gap))).trimEnd();
    // a terminal too narrow even for the shrunk columns: cut the line rather than wrap it
    return opts.width !== undefined ? truncate(line, opts.width) : line;
  });
  return lines.join("\n");
}
