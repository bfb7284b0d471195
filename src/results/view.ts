/**
 * What the pages show, as plain JSON: the report embeds these, the live page's server sends them.
 * No Node or DOM imports, so both the CLI and the browser bundles use it.
 */

export interface CardData {
  key: string;
  resultKey: string;
  status: "classified" | "error" | "unreadable";
  predictions: { label: string; score: number }[];
  error?: { code: string; message: string };
  functionMs?: number;
  /** ISO time the result was written. */
  when: string;
  coldStart?: boolean;
  /** A data: URI (report) or a same-origin URL (live page); absent when there is no preview. */
  thumbnail?: string;
  /** Why there is no thumbnail. */
  thumbnailProblem?: string;
}

/** One function log line, parsed for the live page. */
export interface LogLineData {
  timestamp: number;
  kind: "report" | "start" | "end" | "classified" | "rejected" | "warning" | "error" | "other";
  requestId?: string;
  /** The image this line is about (REPORT lines get it from the request's earlier lines). */
  key?: string;
  top1?: { label: string; score: number };
  cold?: boolean;
  durationMs?: number;
  billedMs?: number;
  initMs?: number;
  memoryUsedMb?: number;
  memorySizeMb?: number;
  text: string;
}

/** The summary figures of a set of results (computed by src/results/summary.ts). */
export interface Summary {
  total: number;
  byStatus: Record<string, number>;
  topLabels: { label: string; count: number }[];
  errorCodes: { code: string; count: number }[];
  functionMs: { p50?: number; p95?: number; max?: number; samples: number };
  reports: number;
  coldStarts: number;
  initMs: { p50?: number; max?: number };
  maxMemoryUsedMb?: number;
  memorySizeMb?: number;
  billedMs: { mean?: number; p95?: number };
  cost?: { per1000Images: number; assumption: string };
}

export interface ReportData {
  title: string;
  generatedAt: string;
  source: string;
  summary: Summary;
  cards: CardData[];
}

export function formatPercent(score: number): string {
  return `${(score * 100).toFixed(1)}%`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "-";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}
