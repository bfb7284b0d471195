/**
 * The function as it ships (the staged bundle + model) answering Function URL events: payload
 * format 2.0 exactly as Lambda builds them (AWS's documented shape), binary bodies base64-encoded
 * and text bodies not, and every error status. A real S3 server shows the HTTP path writes nothing,
 * and gives the S3 path's error results to compare the HTTP errors with.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { s3Record } from "../helpers/events.js";
import * as img from "../helpers/images.js";
import { startS3, type TestS3 } from "../helpers/s3.js";

let s3: TestS3;
let handler: (event: unknown, context: unknown) => Promise<any>;
const MAX_BYTES = 2_000_000;
const ctx = () => ({ awsRequestId: randomBytes(8).toString("hex") });

/** A Function URL request event, as Lambda sends it (payload format version 2.0). */
function urlEvent(opts: { method?: string; path?: string; query?: string; contentType?: string; body?: Buffer | string; base64?: boolean; headers?: Record<string, string> }) {
  const { method = "POST", path = "/", query = "" } = opts;
  const body = opts.body === undefined ? undefined : opts.base64 === false ? String(opts.body) : Buffer.from(opts.body).toString("base64");
  const headers: Record<string, string> = {
    "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
    "x-amzn-tls-version": "TLSv1.3",
    "x-amzn-trace-id": "Root=1-6571a6c5-5e4b5a7b0c8f6d2e3a1b9c0d",
    "x-forwarded-proto": "https",
    host: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
    "x-forwarded-port": "443",
    "x-forwarded-for": "203.0.113.7",
    accept: "*/*",
    "user-agent": "curl/8.5.0",
    ...(opts.contentType ? { "content-type": opts.contentType } : {}),
    ...(body !== undefined ? { "content-length": String(Buffer.byteLength(Buffer.isBuffer(opts.body) ? opts.body : String(opts.body ?? ""))) } : {}),
    ...opts.headers,
  };
  const params = Object.fromEntries(new URLSearchParams(query));
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: query,
    headers,
    ...(query ? { queryStringParameters: params } : {}),
    requestContext: {
      accountId: "anonymous",
      apiId: "abcdefghijklmnopqrstuvwxyz012345",
      domainName: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
      domainPrefix: "abcdefghijklmnopqrstuvwxyz012345",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "curl/8.5.0" },
      requestId: "5b2f3c1e-8d4a-4f6b-9e7c-1a2b3c4d5e6f",
      routeKey: "$default",
      stage: "$default",
      time: "07/Dec/2026:10:15:30 +0000",
      timeEpoch: 1796724930000,
    },
    ...(body !== undefined ? { body, isBase64Encoded: opts.base64 !== false } : { isBase64Encoded: false }),
  };
}

const json = (res: any) => JSON.parse(res.body);

/** The error result the S3 path writes for the same bytes. */
async function s3ErrorFor(name: string, bytes: Buffer) {
  const key = `uploads/compare/${name}.jpg`;
  await s3.put(key, bytes);
  await handler({ Records: [s3Record(s3.bucket, key, bytes.length)] }, ctx());
  return (await s3.getJson(`results/compare/${name}.jpg.json`)).error;
}

beforeAll(async () => {
  s3 = await startS3("photos");
  const staged = await stageFunction(await loadModel(), await mkdtemp(join(tmpdir(), "imgfn-task-")), { linkNodeModules: true });
  Object.assign(process.env, s3.env, { AWS_MAX_ATTEMPTS: "1", LAMBDA_TASK_ROOT: staged.dir, IMGFN_MAX_BYTES: String(MAX_BYTES) });
  ({ handler } = await import(join(staged.dir, "index.mjs")));
});
afterAll(async () => {
  await s3?.close();
});

describe("the function behind a Function URL", () => {
  it("POST / with a base64 JPEG answers 200 with the result document, the request id, and writes nothing to S3", async () => {
    const before = await s3.list();
    const c = ctx();
    const res = await handler(urlEvent({ contentType: "image/jpeg", body: img.catJpeg() }), c);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.isBase64Encoded).toBe(false);
    const doc = json(res);
    expect(img.CAT_CLASSES.has(doc.predictions[0].index)).toBe(true);
    expect(doc.predictions).toHaveLength(5);
    expect(doc.image).toEqual({ format: "jpeg", width: expect.any(Number), height: expect.any(Number) });
    expect(doc.model).toEqual({ id: "mobilenetv2-12-int8", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(doc.requestId).toBe(c.awsRequestId);
    expect(typeof doc.coldStart).toBe("boolean");
    for (const stage of ["preprocess", "inference", "total"]) expect(typeof doc.timings[stage]).toBe("number");
    // the S3 input fields are not there: there was no bucket, key or ETag
    expect(doc.input).toEqual({ size: img.catJpeg().length, contentType: "image/jpeg" });
    expect(await s3.list()).toEqual(before);
  });

  it("accepts /classify, application/octet-stream, curl's default form type and no Content-Type; ?top=N", async () => {
    const png = await img.catRgbaPng();
    for (const [path, contentType] of [["/classify", "application/octet-stream"], ["/", "application/x-www-form-urlencoded"], ["/classify/", undefined]] as const) {
      const res = await handler(urlEvent({ path, contentType, body: png, query: "top=3" }), ctx());
      expect(res.statusCode, `${path} ${contentType}`).toBe(200);
      const doc = json(res);
      expect(doc.predictions).toHaveLength(3);
      expect(doc.image.format).toBe("png");
      expect(img.CAT_CLASSES.has(doc.predictions[0].index)).toBe(true);
    }
  });

  it("a body Lambda passed as text (not base64) is classified as those bytes: an SVG is refused like on the S3 path", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><rect width="300" height="300" fill="red"/></svg>`;
    const res = await handler(urlEvent({ contentType: "image/svg+xml", body: svg, base64: false }), ctx());
    expect(res.statusCode).toBe(422);
    expect(json(res).error).toEqual(await s3ErrorFor("svg", Buffer.from(svg)));
    expect(json(res).error.code).toBe("UNSUPPORTED_FORMAT");
  });

  it("bad images answer 400/422 with the S3 path's error.code and error.message", async () => {
    const cases: [string, Buffer, number, string][] = [
      ["empty", Buffer.alloc(0), 400, "EMPTY_OBJECT"],
      ["text", Buffer.from("this is not an image at all, just some text"), 422, "NOT_AN_IMAGE"],
      ["truncated", img.truncatedJpeg(), 422, "CORRUPT_IMAGE"],
      ["bomb", img.pngBomb(), 422, "IMAGE_TOO_LARGE"],
    ];
    for (const [name, bytes, status, code] of cases) {
      const res = await handler(urlEvent({ contentType: "image/jpeg", body: bytes }), ctx());
      expect(res.statusCode, name).toBe(status);
      const doc = json(res);
      expect(doc.error.code, name).toBe(code);
      expect(doc.error, name).toEqual(await s3ErrorFor(name, bytes));
      expect(doc.predictions).toBeUndefined();
      expect(doc.requestId).toEqual(expect.any(String));
    }
  });

  it("a body over the limit gets 413 with the limit named; the S3 path calls it OBJECT_TOO_LARGE too", async () => {
    const big = Buffer.concat([img.catJpeg(), Buffer.alloc(MAX_BYTES)]);
    const res = await handler(urlEvent({ contentType: "image/jpeg", body: big }), ctx());
    expect(res.statusCode).toBe(413);
    expect(json(res).error).toEqual({ code: "OBJECT_TOO_LARGE", message: `body is ${big.length} bytes, over the ${MAX_BYTES}-byte limit (IMGFN_MAX_BYTES)` });
  });

  it("request errors: 400 bad ?top and bad base64, 404 unknown path, 405 other methods, 415 JSON or forms", async () => {
    const check = async (event: unknown, status: number, code: string, headers: Record<string, string> = {}) => {
      const res = await handler(event, ctx());
      expect(res.statusCode, code).toBe(status);
      expect(json(res).error.code).toBe(code);
      expect(json(res).error.message).toEqual(expect.any(String));
      expect(res.headers).toMatchObject(headers);
    };
    await check(urlEvent({ body: img.catJpeg(), query: "top=0" }), 400, "INVALID_PARAMETER");
    await check(urlEvent({ body: img.catJpeg(), query: "top=abc" }), 400, "INVALID_PARAMETER");
    await check({ ...urlEvent({ body: img.catJpeg() }), body: "%%% not base64 %%%" }, 400, "INVALID_BODY");
    await check(urlEvent({ path: "/predict", body: img.catJpeg() }), 404, "NOT_FOUND");
    await check(urlEvent({ method: "PUT", body: img.catJpeg() }), 405, "METHOD_NOT_ALLOWED", { allow: "GET, POST" });
    await check(urlEvent({ method: "DELETE", path: "/classify" }), 405, "METHOD_NOT_ALLOWED", { allow: "POST" });
    await check(urlEvent({ method: "GET", path: "/classify" }), 405, "METHOD_NOT_ALLOWED", { allow: "POST" });
    await check(urlEvent({ contentType: "application/json", body: JSON.stringify({ image: "x" }), base64: false }), 415, "UNSUPPORTED_MEDIA_TYPE");
    await check(urlEvent({ contentType: "multipart/form-data; boundary=x", body: img.catJpeg() }), 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  it("GET / describes the model: id, labels count, input size, the 6 MB limit", async () => {
    const res = await handler(urlEvent({ method: "GET" }), ctx());
    expect(res.statusCode).toBe(200);
    const doc = json(res);
    expect(doc.model.id).toBe("mobilenetv2-12-int8");
    expect(doc.labels).toBe(1000);
    expect(doc.input).toMatchObject({ width: 224, height: 224, shape: [1, 3, 224, 224] });
    expect(doc.limits.payload).toContain("6 MB");
  });

  it("S3 events still take the S3 path", async () => {
    await s3.put("uploads/s3path/cat.jpg", img.catJpeg());
    const out = await handler({ Records: [s3Record(s3.bucket, "uploads/s3path/cat.jpg", img.catJpeg().length)] }, ctx());
    expect(out.results[0].status).toBe("classified");
  });
});
