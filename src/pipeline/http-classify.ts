/**
 * Classifying over HTTP: POST an image's bytes to a Function URL (deployed, the local one, or any
 * URL serving the same contract) and read the function's answer. Signing is injected (SigV4 for
 * AWS_IAM URLs, src/aws/url-signer.ts), so this file knows nothing about AWS credentials.
 */
import { extname } from "node:path";
import { UserError } from "../errors.js";

/** Returns the headers to send (the given ones plus the signature). */
export type RequestSigner = (req: { method: string; url: URL; headers: Record<string, string>; body: Uint8Array }) => Promise<Record<string, string>>;

export interface HttpAnswer {
  status: number;
  /** Lambda's request id (x-amzn-requestid), when the answer came from a function. */
  requestId?: string;
  /** The parsed JSON body, or undefined when it was not JSON. */
  document?: any;
  text: string;
  /** Request sent → response read, ms. */
  latencyMs: number;
}

const TYPES: Record<string, string> = { ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".tif": "image/tiff", ".tiff": "image/tiff", ".avif": "image/avif", ".heic": "image/heif", ".heif": "image/heif" };

/** The Content-Type for a file: its image type by extension, else application/octet-stream. */
export function contentTypeFor(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** The URL to POST to: the Function URL's root with ?top=N (the function answers / and /classify). */
export function classifyUrl(base: string, top?: number): URL {
  const url = new URL(base);
  if (top !== undefined) url.searchParams.set("top", String(top));
  return url;
}

export async function postImage(base: string, body: Uint8Array, opts: { top?: number; contentType?: string; sign?: RequestSigner; signal?: AbortSignal } = {}): Promise<HttpAnswer> {
  const url = classifyUrl(base, opts.top);
  let headers: Record<string, string> = { "content-type": opts.contentType ?? "application/octet-stream" };
  if (opts.sign) headers = await opts.sign({ method: "POST", url, headers, body });
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body, signal: opts.signal });
  } catch (err) {
    if ((err as Error)?.name === "AbortError") throw err;
    const cause = (err as any)?.cause;
    throw new UserError(`cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, {
      hint: "check the URL; for the local stack start `imgfn dev` in this folder; for AWS run `imgfn status` to see the function URL",
      cause: err,
    });
  }
  const text = await res.text();
  let document: any;
  try {
    document = text ? JSON.parse(text) : undefined;
  } catch {
    document = undefined;
  }
  return { status: res.status, requestId: res.headers.get("x-amzn-requestid") ?? undefined, document, text, latencyMs: performance.now() - started };
}
