/**
 * The summary figures of a set of results: counts by status, top labels, function time
 * percentiles, and — from the REPORT lines of the same requests — cold starts, memory and the
 * estimated cost per 1000 images.
 */
import type { Architecture } from "../config.js";
import type { LogSource } from "../target.js";
import { parseReport, type ReportLine } from "../ui/logs.js";
import type { ResultRow } from "./read.js";
import type { Summary } from "./view.js";

/**
 * Lambda's on-demand prices in us-east-1 (the published list price; other regions differ a
 * little): per GB-second of billed duration, and per request.
 */
export const LAMBDA_PRICES = {
  x86_64: { perGbSecond: 0.0000166667 },
  arm64: { perGbSecond: 0.0000133334 },
  perRequest: 0.2 / 1_000_000,
  region: "us-east-1",
};

export type { Summary };

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function counted<T extends string>(values: T[], limit: number): { name: T; count: number }[] {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name)).slice(0, limit);
}

/**
 * Cost per 1000 images: the mean billed duration × memory × the GB-second price, plus the
 * request price (one request per image, as an S3 trigger sends one record per event).
 */
export function costPer1000(meanBilledMs: number, memoryMb: number, architecture: Architecture): number {
  const gbSeconds = (meanBilledMs / 1000) * (memoryMb / 1024);
  return 1000 * (gbSeconds * LAMBDA_PRICES[architecture].perGbSecond + LAMBDA_PRICES.perRequest);
}

export function summarize(rows: ResultRow[], reports: ReportLine[], architecture: Architecture = "x86_64"): Summary {
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const times = rows.map((r) => r.functionMs).filter((v): v is number => typeof v === "number");
  const ids = new Set(rows.map((r) => r.requestId).filter(Boolean));
  const mine = reports.filter((r) => ids.has(r.requestId));
  const billed = mine.map((r) => r.billedDuration);
  const inits = mine.map((r) => r.initDuration).filter((v): v is number => v !== undefined);
  const meanBilled = billed.length ? billed.reduce((a, b) => a + b, 0) / billed.length : undefined;
  const memorySize = mine.length ? Math.max(...mine.map((r) => r.memorySize)) : undefined;
  return {
    total: rows.length,
    byStatus,
    topLabels: counted(rows.flatMap((r) => (r.status === "classified" && r.top1 ? [r.top1.label] : [])), 10).map(({ name, count }) => ({ label: name, count })),
    errorCodes: counted(rows.flatMap((r) => (r.status !== "classified" && r.error ? [r.error.code] : [])), 10).map(({ name, count }) => ({ code: name, count })),
    functionMs: { p50: percentile(times, 50), p95: percentile(times, 95), max: times.length ? Math.max(...times) : undefined, samples: times.length },
    reports: mine.length,
    // a result says whether its invocation was a cold one; REPORT lines say it with Init Duration
    coldStarts: mine.length ? inits.length : rows.filter((r) => r.coldStart).length,
    initMs: { p50: percentile(inits, 50), max: inits.length ? Math.max(...inits) : undefined },
    maxMemoryUsedMb: mine.length ? Math.max(...mine.map((r) => r.maxMemoryUsed)) : undefined,
    memorySizeMb: memorySize,
    billedMs: { mean: meanBilled, p95: percentile(billed, 95) },
    cost:
      meanBilled !== undefined && memorySize !== undefined
        ? {
            per1000Images: costPer1000(meanBilled, memorySize, architecture),
            assumption: `AWS Lambda on-demand list prices in ${LAMBDA_PRICES.region}: $${LAMBDA_PRICES[architecture].perGbSecond} per GB-second (${architecture}) and $0.20 per million requests; the mean measured billed duration (${meanBilled.toFixed(0)} ms over ${billed.length} REPORT lines) at ${memorySize} MB; free tier, S3 and CloudWatch charges not included`,
          }
        : undefined,
  };
}

/** The REPORT lines written since `since` (local log files or CloudWatch, through the target). */
export async function readReports(logs: LogSource, since: number, signal?: AbortSignal): Promise<ReportLine[]> {
  const out: ReportLine[] = [];
  for await (const event of logs.events({ since, filter: "REPORT RequestId", signal })) {
    const report = parseReport(event.message);
    if (report) out.push(report);
  }
  return out;
}
