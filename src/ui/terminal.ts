/**
 * What the terminal can do, decided once: whether spinners and bars may redraw a line in place,
 * and how many columns a table may use. A TTY that reports 0 columns (CI runners, `docker run -t`,
 * `script -qc`) or an unknown width cannot redraw safely (ora would emit cursor-up escapes
 * without end), and neither can CI=true: those get plain progress lines.
 */
import type { Writable } from "node:stream";

type MaybeTTY = Writable & { isTTY?: boolean; columns?: number };

/** The stream's width in columns when it is a terminal that reports one (> 0), else undefined. */
export function terminalColumns(stream: Writable, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const s = stream as MaybeTTY;
  if (s.isTTY && Number.isInteger(s.columns) && (s.columns as number) > 0) return s.columns;
  // Not a terminal (a pipe, a file, a test's sink): an explicit COLUMNS still sets the width.
  const fromEnv = Number(env.COLUMNS);
  return !s.isTTY && Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}

/** True when in-place redraws (spinners, bars) are safe on this stream. */
export function canAnimate(stream: Writable, env: NodeJS.ProcessEnv = process.env): boolean {
  const s = stream as MaybeTTY;
  if (!s.isTTY || env.TERM === "dumb" || isCI(env)) return false;
  return Number.isInteger(s.columns) && (s.columns as number) > 0;
}

export function isCI(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}
