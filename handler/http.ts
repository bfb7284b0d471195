/**
 * The function's synchronous door: Lambda Function URL events (payload format 2.0). The same
 * classifier and limits as the S3 path, the answer in the response, nothing written to S3.
 *   POST / or /classify  raw image body (base64 when Lambda says so), ?top=N  → 200 result document
 *                        (Content-Type image/*, application/octet-stream, curl's default form type, or none)
 *   GET /                a small description of the model
 * Bad input answers with the S3 path's error.code/error.message (400, 413 or 422).
 */
import { type Classifier, ImageInputError } from "./classify.js";
import { type Settings, SYNC_LIMIT_TEXT, SYNC_PAYLOAD_LIMIT } from "./settings.js";

export interface FunctionUrlEvent {
  version: "2.0";
  rawPath?: string;
  rawQueryString?: string;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  requestContext: { http: { method: string; path?: string; sourceIp?: string }; requestId?: string; domainName?: string };
  body?: string;
  isBase64Encoded?: boolean;
}

export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: false;
}

export interface HttpDeps {
  settings: Settings;
  classifier: () => Promise<Classifier>;
  log: (level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>) => void;
  coldStart: boolean;
}

const ROUTES = new Set(["/", "/classify"]);
// x-www-form-urlencoded is what `curl --data-binary @cat.jpg` says by default: still raw bytes
const ACCEPTED_TYPES = /^(image\/[\w.+-]+|application\/octet-stream|application\/x-www-form-urlencoded)$/i;

/** A Function URL (or API Gateway HTTP API) event, as opposed to an S3 notification. */
export function isFunctionUrlEvent(event: unknown): event is FunctionUrlEvent {
  const e = event as FunctionUrlEvent | undefined;
  return e?.version === "2.0" && typeof e?.requestContext?.http?.method === "string";
}

function respond(statusCode: number, document: unknown, headers: Record<string, string> = {}): FunctionUrlResult {
  return { statusCode, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(document), isBase64Encoded: false };
}


/** HTTP status for each input error the classifier reports (the S3 path's error codes). */
export function statusFor(code: string): number {
  if (code === "EMPTY_OBJECT") return 400;
  if (code === "OBJECT_TOO_LARGE") return 413;
  return 422; // NOT_AN_IMAGE, UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE, CORRUPT_IMAGE
}

function header(event: FunctionUrlEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  return headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

/** ?top=N: 1..1000 like the config's topK; absent means the function's IMGFN_TOP_K. */
function topFrom(event: FunctionUrlEvent, fallback: number): number | string {
  const raw = event.queryStringParameters?.top ?? new URLSearchParams(event.rawQueryString ?? "").get("top") ?? undefined;
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : `?top must be an integer from 1 to 1000, got "${raw}"`;
}

function bodyBytes(event: FunctionUrlEvent): Buffer | undefined {
  const body = event.body ?? "";
  if (!event.isBase64Encoded) return Buffer.from(body, "utf8");
  // Buffer.from ignores invalid characters; refuse them instead of classifying a mangled image
  if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(body)) return undefined;
  return Buffer.from(body, "base64");
}

export async function handleFunctionUrlEvent(event: FunctionUrlEvent, requestId: string, deps: HttpDeps): Promise<FunctionUrlResult> {
  const { settings, log } = deps;
  const method = event.requestContext.http.method.toUpperCase();
  /** A refused request: logged, and answered with an error document shaped like the S3 path's. */
  const failure = (statusCode: number, code: string, message: string, headers: Record<string, string> = {}) => {
    log("warn", "request refused", { requestId, source: "function-url", method, path: event.rawPath, status: statusCode, error: { code, message } });
    return respond(statusCode, { error: { code, message }, requestId }, headers);
  };
  const path = (event.rawPath ?? event.requestContext.http.path ?? "/").replace(/(.)\/+$/, "$1");
  if (!ROUTES.has(path)) return failure(404, "NOT_FOUND", `no route for ${path}; POST an image to / or /classify, or GET / for a description`);
  if (method === "GET" && path === "/") {
    const model = await deps.classifier();
    const { manifest } = model;
    return respond(200, {
      model: { id: manifest.id, name: manifest.name ?? null, sha256: manifest.sha256 ?? null },
      labels: model.labels.length,
      input: { width: manifest.preprocess.crop, height: manifest.preprocess.crop, shape: manifest.input.shape },
      usage: `POST the image bytes to / or /classify (Content-Type image/* or application/octet-stream); ?top=N for N predictions (default ${settings.topK})`,
      limits: { maxBytes: Math.min(settings.maxBytes, SYNC_PAYLOAD_LIMIT), maxPixels: settings.maxPixels, payload: SYNC_LIMIT_TEXT },
      requestId,
    });
  }
  if (method !== "POST") {
    return failure(405, "METHOD_NOT_ALLOWED", `${method} is not allowed on ${path}; POST an image${path === "/" ? " (or GET / for a description)" : ""}`, { allow: path === "/" ? "GET, POST" : "POST" });
  }

  const contentType = header(event, "content-type")?.split(";")[0].trim();
  if (contentType && !ACCEPTED_TYPES.test(contentType)) {
    return failure(415, "UNSUPPORTED_MEDIA_TYPE", `Content-Type ${contentType} is not accepted; send the raw image bytes as image/* or application/octet-stream (not a form or JSON)`);
  }
  const topK = topFrom(event, settings.topK);
  if (typeof topK === "string") return failure(400, "INVALID_PARAMETER", topK);
  const bytes = bodyBytes(event);
  if (!bytes) return failure(400, "INVALID_BODY", "the request says its body is base64-encoded, but it is not valid base64");

  const started = performance.now();
  const coldStart = deps.coldStart;
  const input = { size: bytes.byteLength, contentType: contentType ?? null };
  try {
    const limit = Math.min(settings.maxBytes, SYNC_PAYLOAD_LIMIT);
    if (bytes.byteLength > limit) {
      const why = settings.maxBytes < SYNC_PAYLOAD_LIMIT ? `the ${settings.maxBytes}-byte limit (IMGFN_MAX_BYTES)` : SYNC_LIMIT_TEXT;
      throw new ImageInputError("OBJECT_TOO_LARGE", `body is ${bytes.byteLength} bytes, over ${why}`);
    }
    const model = await deps.classifier();
    const result = await model.classify(bytes, { topK, maxPixels: settings.maxPixels });
    const timings = { preprocess: result.timings.preprocess, inference: result.timings.inference, total: ms(performance.now() - started) };
    const top = result.predictions[0];
    log("info", "classified", { requestId, source: "function-url", size: bytes.byteLength, top1: top?.label, score: top?.score, timings, coldStart });
    return respond(200, {
      input,
      image: result.image,
      model: { id: model.manifest.id, sha256: model.manifest.sha256 ?? null },
      predictions: result.predictions,
      timings,
      requestId,
      coldStart,
      timestamp: new Date().toISOString(),
    });
  } catch (err) {
    if (!(err instanceof ImageInputError)) throw err; // a fault of the function, not the input: Lambda reports it
    const error = { code: err.code, message: err.message };
    log("warn", "input rejected", { requestId, source: "function-url", size: bytes.byteLength, error, coldStart });
    return respond(statusFor(err.code), { input, error, requestId, coldStart, timestamp: new Date().toISOString() });
  }
}

const ms = (v: number) => Math.round(v * 100) / 100;
