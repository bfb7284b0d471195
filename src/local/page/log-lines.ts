/** Function log events → the live page's log lines (cold/warm, duration, memory, the image's key). */
import type { LogEvent } from "../../target.js";
import type { LogLineData } from "../../results/view.js";
import { parseHandlerLine, parseReport } from "../../ui/logs.js";

/** Remembers which image each request is about, so its REPORT line can name it. */
export class LogLineReader {
  private readonly keys = new Map<string, string>();

  read(event: LogEvent): LogLineData {
    const message = event.message.replace(/\n$/, "");
    const base = { timestamp: event.timestamp, text: message };
    const report = parseReport(message);
    if (report) {
      const key = this.keys.get(report.requestId);
      this.forget(report.requestId);
      return {
        ...base,
        kind: "report",
        requestId: report.requestId,
        key,
        cold: report.initDuration !== undefined,
        durationMs: report.duration,
        billedMs: report.billedDuration,
        initMs: report.initDuration,
        memoryUsedMb: report.maxMemoryUsed,
        memorySizeMb: report.memorySize,
      };
    }
    const start = /^(START|END) RequestId: (\S+)/.exec(message);
    if (start) return { ...base, kind: start[1] === "START" ? "start" : "end", requestId: start[2], key: this.keys.get(start[2]) };
    const json = parseHandlerLine(message);
    if (!json) return { ...base, kind: "other" };
    const requestId = typeof json.requestId === "string" ? json.requestId : undefined;
    const key = typeof json.key === "string" ? json.key : undefined;
    if (requestId && key) this.remember(requestId, key);
    const kind = json.msg === "classified" ? "classified" : json.msg === "input rejected" ? "rejected" : json.level === "error" ? "error" : json.level === "warn" ? "warning" : "other";
    return {
      ...base,
      kind,
      requestId,
      key,
      cold: typeof json.coldStart === "boolean" ? json.coldStart : undefined,
      durationMs: typeof json.timings?.total === "number" ? json.timings.total : undefined,
      top1: typeof json.top1 === "string" ? { label: json.top1, score: Number(json.score ?? 0) } : undefined,
      text: json.error ? `${json.msg}: ${json.error.code ?? json.error.name}: ${json.error.message}` : String(json.msg ?? message),
    };
  }

  private remember(requestId: string, key: string): void {
    this.keys.set(requestId, key);
    // bounded: requests whose REPORT never came (a crash) must not pile up
    if (this.keys.size > 1000) this.forget(this.keys.keys().next().value!);
  }

  private forget(requestId: string): void {
    this.keys.delete(requestId);
  }
}
