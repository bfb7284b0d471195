import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { renderLogEvent } from "../../src/ui/logs.js";

const c = pc.createColors(false);
const line = (fields: Record<string, unknown>) => ({ timestamp: Date.UTC(2026, 0, 1, 10, 0, 0), message: `2026-01-01T10:00:00.000Z\tabc\tINFO\t${JSON.stringify(fields)}\n`, logStreamName: "s" });

describe("rendering the function's Function URL log lines", () => {
  it("a classification over HTTP names the request instead of an S3 key", () => {
    const out = renderLogEvent(line({ level: "info", msg: "classified", source: "function-url", top1: "tabby", score: 0.5, timings: { total: 20, inference: 9 }, coldStart: false }), c);
    expect(out).toBe("10:00:00.000 -        INFO  HTTP request → tabby (50.0%) total 20 ms, inference 9 ms");
  });

  it("a refused request shows its error", () => {
    const out = renderLogEvent(line({ level: "warn", msg: "request refused", source: "function-url", status: 415, error: { code: "UNSUPPORTED_MEDIA_TYPE", message: "Content-Type application/json is not accepted" } }), c);
    expect(out).toBe("10:00:00.000 -        WARN  request refused — UNSUPPORTED_MEDIA_TYPE: Content-Type application/json is not accepted");
  });
});
