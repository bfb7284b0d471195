/** The one duration syntax of `--since` (logs, status): 30s, 10m, 2h, 1d, 1w, or an ISO time. */
import { ConfigError } from "./errors.js";

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** "10m" → epoch ms ten minutes before `now`; an ISO date is taken as is. */
export function parseSince(value: string, now = Date.now(), flag = "--since"): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(value.trim());
  if (m) return now - Number(m[1]) * UNITS[m[2] as keyof typeof UNITS];
  // Date.parse reads "10" as October 2001 and "2024" as a year: a bare number is a duration
  // without its unit, so it is refused rather than guessed
  const bare = /^\s*\d+(\.\d+)?\s*$/.test(value);
  const t = bare ? NaN : Date.parse(value);
  if (Number.isNaN(t)) {
    throw new ConfigError(`${flag} must be a duration like 30s, 10m, 2h, 1d or an ISO time (got "${value}")`, bare ? { hint: `add the unit, e.g. ${flag} ${value.trim()}h` } : {});
  }
  return t;
}

/** A span for "in the last …": "7 d", "24 h", "10 min", "30 s". */
export function formatSpan(ms: number): string {
  const days = ms / 86_400_000;
  if (days >= 2 && Math.abs(days - Math.round(days)) < 0.01) return `${Math.round(days)} d`;
  if (ms >= 3_600_000) return `${Math.round(ms / 3_600_000)} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 1000)} s`;
}
