/**
 * Results as terminal text: width-aware rows (cells truncated with an ellipsis so a row never
 * wraps) and top-k bars, measured in terminal columns (ui/width.ts).
 */
import { displayWidth, truncate } from "../ui/width.js";
import { formatDuration, formatPercent } from "./view.js";
import type { ResultRow } from "./read.js";

/**
 * Control characters shown as escapes: an S3 key may hold a newline or an ESC, which would break
 * a row or drive the terminal.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

const pad = (s: string, width: number) => s + " ".repeat(Math.max(0, width - displayWidth(s)));

/** "12s ago", "5m ago", "3h ago", "2d ago". */
export function ago(when: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - when) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function outcomeText(row: ResultRow): string {
  if (row.status === "classified" && row.top1) return `${row.top1.label} (${formatPercent(row.top1.score)})`;
  return row.error?.code ?? row.status;
}

export interface RowStyle {
  /** Colours applied after the layout (so they do not count as width). */
  key?: (s: string) => string;
  ok?: (s: string) => string;
  bad?: (s: string) => string;
  dim?: (s: string) => string;
}

/**
 * The results table: key, outcome (top-1 with score, or the error code), function time, when.
 * With a width, the key column shrinks first (cut in the middle), then the outcome column, and
 * a narrow terminal drops the function time; no line is longer than the width.
 */
export function resultTable(rows: ResultRow[], opts: { width?: number; now?: number; style?: RowStyle } = {}): string[] {
  const id = (s: string) => s;
  const style = { key: id, ok: id, bad: id, dim: id, ...opts.style };
  const header = ["key", "result", "function", "when"];
  const cells = rows.map((r) => [printable(r.key), printable(outcomeText(r)), r.functionMs !== undefined ? formatDuration(r.functionMs) : "-", ago(r.when, opts.now)]);
  const widths = header.map((h, i) => Math.max(displayWidth(h), ...cells.map((c) => displayWidth(c[i]))));
  let columns = [0, 1, 2, 3];
  if (opts.width !== undefined) {
    const room = (cols: number[]) => opts.width! - cols.slice(2).reduce((sum, i) => sum + widths[i], 0) - 2 * (cols.length - 1);
    // a narrow terminal loses the function time before the key and outcome become unreadable
    if (room(columns) < 20) columns = [0, 1, 3];
    const left = room(columns);
    if (widths[0] + widths[1] > left) {
      // the outcome keeps up to ~45% of the room, the key takes the rest
      const outcome = Math.min(widths[1], Math.max(10, Math.floor(left * 0.45)));
      widths[0] = Math.max(8, Math.min(widths[0], left - outcome));
      widths[1] = Math.max(6, Math.min(widths[1], left - widths[0]));
    }
  }
  const line = (c: string[], paint: ((s: string) => string)[]) => {
    const parts = columns.map((i) => ({ text: truncate(c[i], widths[i], i === 0 ? "middle" : "end"), width: widths[i], paint: paint[i] }));
    const cell = (p: (typeof parts)[number], last: boolean) => (last ? p.text : pad(p.text, p.width));
    const text = parts.map((p, n) => cell(p, n === parts.length - 1)).join("  ");
    // the last guard: a terminal narrower than even the shrunken columns
    if (opts.width !== undefined && displayWidth(text) > opts.width) return truncate(text, opts.width);
    return parts.map((p, n) => p.paint(cell(p, n === parts.length - 1))).join("  ");
  };
  return [
    line(header, header.map(() => style.dim)),
    ...rows.map((r, n) => line(cells[n], [style.key, r.status === "classified" ? style.ok : style.bad, id, style.dim])),
  ];
}

/** Top-k as bars: "label  ██████████░░░░░░  73.7%", fitted to the width. */
export function barLines(predictions: { label: string; score: number }[], width = 80): string[] {
  const labelWidth = Math.min(28, Math.max(5, ...predictions.map((p) => displayWidth(p.label))));
  const barWidth = Math.max(5, Math.min(30, width - labelWidth - 2 - 2 - 6 - 2));
  return predictions.map((p) => {
    const filled = Math.round(Math.max(0, Math.min(1, p.score)) * barWidth);
    const line = `  ${pad(truncate(printable(p.label), labelWidth), labelWidth)}  ${"█".repeat(filled)}${"░".repeat(barWidth - filled)}  ${formatPercent(p.score).padStart(6)}`;
    return truncate(line, width);
  });
}
