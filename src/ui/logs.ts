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

/** The request an event belongs to: START/END/REPORT name it, the runtime's console prefix carries it, JSON lines hold it. */
export function requestIdOf(message: string): string | undefined {
  const named = /^(?:START|END|REPORT) RequestId: (\S+)/.exec(message);
  if (named) return named[1];
  const parts = message.split("\t");
  if (parts.length >= 4 && /^[0-9a-f-]{8,}$/i.test(parts[1])) return parts[1];
  const json = parseHandlerLine(message);
  return typeof json?.requestId === "string" ? json.requestId : undefined;
}

/** Lambda's "Invoke Error" / "Init Error" line: the error the runtime reports, with its stack. */
export function parseRuntimeError(message: string): { kind: string; errorType: string; errorMessage: string; stack: string[] } | undefined {
  const parts = message.split("\t");
  const body = (parts.length >= 4 ? parts.slice(3).join("\t") : message).trim();
  const m = /^(Invoke Error|Init Error|uncaughtException|unhandledRejection)\s*(\{[\s\S]*\})\s*$/.exec(body);
  if (!m) return undefined;
  try {
    const e = JSON.parse(m[2]);
    const stack: string[] = (Array.isArray(e.stack) ? e.stack : Array.isArray(e.trace) ? e.trace : typeof e.stack === "string" ? e.stack.split("\n") : []).map(String);
    return { kind: m[1], errorType: String(e.errorType ?? "Error"), errorMessage: String(e.errorMessage ?? ""), stack: stack.map((l) => l.trim()).filter((l) => l.startsWith("at ")) };
  } catch {
    return undefined;
  }
}

/** Short request id shown on every line, so two workers' lines can be told apart. */
const shortId = (id: string | undefined) => (id ?? "-").slice(0, 8).padEnd(8);
/** Frames shown for an error; the rest is summarised. */
const STACK_FRAMES = 8;

/** The throwing frame, then the function's own frames (handler/*.ts through the source map) before library ones. */
function interestingFrames(stack: string[]): string[] {
  const own = stack.slice(1).filter((f) => !/node_modules|node:internal|\(node:/.test(f));
  const rest = stack.slice(1).filter((f) => !own.includes(f));
  return [...stack.slice(0, 1), ...own, ...rest].slice(0, STACK_FRAMES);
}

/** "/var/task/node_modules/x/y.js:1:2" → "node_modules/x/y.js:1:2": the part that says where. */
function shortenFrame(frame: string): string {
  return frame.replace(/(\(|at )\/[^()\s]*?\/((?:node_modules|handler|src)\/[^()\s]+)/, "$1$2");
}

export function renderLogEvent(event: LogEvent, c: Colors): string {
  const time = new Date(event.timestamp).toISOString().slice(11, 23);
  const msg = event.message.replace(/\n$/, "");
  const prefix = `${c.dim(time)} ${c.dim(shortId(requestIdOf(msg)))}`;
  const report = parseReport(msg);
  if (report) {
    const init = report.initDuration !== undefined ? `, cold start ${report.initDuration.toFixed(0)} ms init` : "";
    return `${prefix} ${c.dim("REPORT")} ${report.duration.toFixed(1)} ms (billed ${report.billedDuration} ms), ${report.maxMemoryUsed}/${report.memorySize} MB${init}`;
  }
  if (/^(START|END) RequestId:/.test(msg)) return `${prefix} ${c.dim(msg.split(" RequestId:")[0])}`;
  const runtimeError = parseRuntimeError(msg);
  if (runtimeError) {
    const shown = interestingFrames(runtimeError.stack);
    const frames = shown.map((f) => `\n${" ".repeat(22)}${c.dim(shortenFrame(f))}`).join("");
    const more = runtimeError.stack.length > shown.length ? `\n${" ".repeat(22)}${c.dim(`… ${runtimeError.stack.length - shown.length} more frames`)}` : "";
    return `${prefix} ${c.red("ERROR")} ${runtimeError.kind}: ${c.bold(runtimeError.errorType)}: ${runtimeError.errorMessage}${frames}${more}`;
  }
  const json = parseHandlerLine(msg);
  if (json) {
    const level = String(json.level ?? "info");
    const tag = level === "error" ? c.red("ERROR") : level === "warn" ? c.yellow("WARN ") : c.green("INFO ");
    if (json.msg === "classified") {
      const t = json.timings ?? {};
      return `${prefix} ${tag} ${c.bold(json.key)} → ${json.top1} (${((json.score ?? 0) * 100).toFixed(1)}%) ${c.dim(`total ${t.total} ms, inference ${t.inference} ms${json.coldStart ? ", cold" : ""}`)}`;
    }
    const detail = json.error ? `${json.error.code ?? json.error.name}: ${json.error.message}` : (json.reason ?? "");
    return `${prefix} ${tag} ${json.msg}${json.key ? " " + c.bold(json.key) : ""}${detail ? " — " + detail : ""}`;
  }
  // a plain console line: drop the runtime's time and request id prefix, both already shown
  const parts = msg.split("\t");
  if (parts.length >= 4 && /^\d{4}-\d\d-\d\dT/.test(parts[0])) {
    const level = parts[2];
    const tag = level === "ERROR" ? c.red("ERROR") : level === "WARN" ? c.yellow("WARN ") : c.dim(level.padEnd(5));
    return `${prefix} ${tag} ${parts.slice(3).join("\t")}`;
  }
  return `${prefix} ${msg}`;
}
