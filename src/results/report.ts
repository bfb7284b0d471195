/**
 * The self-contained HTML report: the built page (dist/web/report.{html,css,js}, made by
 * scripts/build.mjs from src/results/web/) with the data, styles, script and every thumbnail
 * inlined, so the one file opens offline.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Architecture } from "../config.js";
import { packageRoot } from "../paths.js";
import type { LogSource } from "../target.js";
import { mapBounded, type ResultRow } from "./read.js";
import { readReports, summarize } from "./summary.js";
import { dataUri, isThumbnail, thumbnailFromS3 } from "./thumbnail.js";
import type { CardData, ReportData } from "./view.js";

export const webAssetsDir = () => join(packageRoot(), "dist", "web");

export function readWebAsset(name: string): string {
  const path = join(webAssetsDir(), name);
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`imgfn's page asset ${path} is missing; run "npm run build" in the imgfn package`, { cause: err });
  }
}

export function cardData(row: ResultRow, thumbnail?: { uri?: string; problem?: string }): CardData {
  return {
    key: row.key,
    resultKey: row.resultKey,
    status: row.status,
    predictions: row.predictions.map((p) => ({ label: p.label, score: p.score })),
    error: row.error,
    functionMs: row.functionMs,
    when: new Date(row.when).toISOString(),
    coldStart: row.coldStart,
    thumbnail: thumbnail?.uri,
    thumbnailProblem: thumbnail?.problem,
  };
}

/** JSON that is safe inside a <script> element (no "</script>", no "<!--"). */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

export function renderReportHtml(data: ReportData): string {
  const template = readWebAsset("report.html");
  const css = readWebAsset("report.css");
  const js = readWebAsset("report.js").replace(/<\/(script)/gi, "<\\/$1");
  // function replacers: "$" in the inlined text must stay as it is
  return template
    .replace("/*imgfn:css*/", () => css.replace(/<\/(style)/gi, "<\\/$1"))
    .replace("/*imgfn:data*/", () => scriptSafeJson(data))
    .replace("/*imgfn:js*/", () => js);
}

export interface ReportInput {
  s3: S3Client;
  bucket: string;
  logs: LogSource;
  rows: ResultRow[];
  source: string;
  architecture: Architecture;
  maxBytes?: number;
  /** Thumbnails made at once (each downloads and decodes one source image). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function buildReport(input: ReportInput): Promise<{ html: string; data: ReportData; thumbnails: number }> {
  const { rows } = input;
  let done = 0;
  let made = 0;
  const cards = await mapBounded(rows, input.concurrency ?? 4, async (row) => {
    const bucket = row.bucket ?? input.bucket;
    const t = row.status === "unreadable" && row.key === row.resultKey ? { problem: "no source key in the result" } : await thumbnailFromS3(input.s3, bucket, row.key, { maxBytes: input.maxBytes, signal: input.signal });
    input.onProgress?.(++done, rows.length);
    if (isThumbnail(t)) made++;
    return cardData(row, isThumbnail(t) ? { uri: dataUri(t) } : { problem: t.problem });
  });
  // the REPORT lines of these results' requests: from a minute before the oldest result
  const oldest = rows.reduce((min, r) => Math.min(min, r.when), Date.now());
  const reports = rows.length ? await readReports(input.logs, oldest - 60_000, input.signal) : [];
  const data: ReportData = {
    title: "imgfn report",
    generatedAt: new Date().toISOString(),
    source: input.source,
    summary: summarize(rows, reports, input.architecture),
    cards,
  };
  return { html: renderReportHtml(data), data, thumbnails: made };
}
