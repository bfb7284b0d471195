/**
 * Renders function log events (CloudWatch shape) for humans: START/END lines dimmed, REPORT
 * lines summarised, the handler's JSON lines as "key → top-1 (timings)". Shared by local and AWS.
 */
import type { LogEvent } from "../target.js";

type Colors = { dim: (s: string) => string; red: (s: string) => string; yellow: (s: string) => string; green: (s: string) => string; bold: (s: string) => string };

export interface ReportLine {
  requestId: string;
  duration: number;
  billedDuration: number;
  memorySize: number;
  maxMemoryUsed: number;
  initDuration?: number;
}

export function parseReport(message: string): ReportLine | undefined {
  const m = /^REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms\s+Billed Duration: (\d+) ms\s+Memory Size: (\d+) MB\s+Max Memory Used: (\d+) MB(?:\s+Init Duration: ([\d.]+) ms)?/.exec(message.trim());
  if (!m) return undefined;
  return {
    requestId: m[1],
    duration: Number(m[2]),
    billedDuration: Number(m[3]),
    memorySize: Number(m[4]),
    maxMemoryUsed: Number(m[5]),
    initDuration: m[6] === undefined ? undefined : Number(m[6]),
  };
}

/**
 * Lambda's Node runtime prefixes console lines with "<ISO time>\t<request id>\t<LEVEL>\t".
 * Returns the JSON object the handler logged, if the line holds one.
 */
export function parseHandlerLine(message: string): Record<string, any> | undefined {
  const parts = message.split("\t");
  const body = parts.length >= 4 ? parts.slice(3).join("\t") : message;
  const trimmed = body.trim();
  if (!trimmed.startsWith("{")) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

export function renderLogEvent(event: LogEvent, c: Colors): string {
  const time = new Date(event.timestamp).toISOString().slice(11, 23);
  const msg = event.message.replace(/\n$/, "");
  const report = parseReport(msg);
  if (report) {
    const init = report.initDuration !== undefined ? `, cold start ${report.initDuration.toFixed(0)} ms init` : "";
    return `${c.dim(time)} ${c.dim("REPORT")} ${report.requestId.slice(0, 8)} ${report.duration.toFixed(1)} ms (billed ${report.billedDuration} ms), ${report.maxMemoryUsed}/${report.memorySize} MB${init}`;
  }
  if (/^(START|END) RequestId:/.test(msg)) return `${c.dim(time)} ${c.dim(msg.split(" Version:")[0])}`;
  const json = parseHandlerLine(msg);
  if (json) {
    const level = String(json.level ?? "info");
    const tag = level === "error" ? c.red("ERROR") : level === "warn" ? c.yellow("WARN ") : c.green("INFO ");
    if (json.msg === "classified") {
      const t = json.timings ?? {};
      return `${c.dim(time)} ${tag} ${c.bold(json.key ?? (json.source === "function-url" ? "HTTP request" : "?"))} → ${json.top1} (${((json.score ?? 0) * 100).toFixed(1)}%) ${c.dim(`total ${t.total} ms, inference ${t.inference} ms${json.coldStart ? ", cold" : ""}`)}`;
    }
    const detail = json.error ? `${json.error.code ?? json.error.name}: ${json.error.message}` : (json.reason ?? "");
    return `${c.dim(time)} ${tag} ${json.msg}${json.key ? " " + c.bold(json.key) : ""}${detail ? " — " + detail : ""}`;
  }
  return `${c.dim(time)} ${msg}`;
}
