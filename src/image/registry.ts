/**
 * A small client for the OCI distribution API: manifests, blob existence, cross-repository
 * mount, chunked uploads (POST, PATCH…, PUT: ECR does not take a monolithic PUT), downloads.
 * Handles basic auth and bearer-token challenges (public.ecr.aws hands out anonymous tokens),
 * a custom CA for TLS, retries with backoff on 5xx and network errors, and counts bytes sent.
 */
import { rootCertificates } from "node:tls";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Agent, request, type Dispatcher } from "undici";
import { UserError } from "../errors.js";
import type { RegistryAuth } from "./builder.js";
import { isLoopback } from "./reference.js";

export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

export interface RegistryOptions {
  auth?: RegistryAuth;
  /** PEM CA certificate(s) to trust for this registry's TLS, beside the system ones. */
  ca?: string | Buffer;
  /** Force plain HTTP (default: only for loopback hosts). */
  plainHttp?: boolean;
  signal?: AbortSignal;
  /** Attempts per request on 5xx / network errors. */
  retries?: number;
  /** Size of each PATCH during uploads. */
  chunkSize?: number;
}

export class RegistryError extends UserError {
  readonly status?: number;
  constructor(message: string, opts: { status?: number; hint?: string; cause?: unknown } = {}) {
    super(message, opts);
    this.name = "RegistryError";
    this.status = opts.status;
  }
}

type Body = Buffer | (() => Readable);

interface SendOptions {
  method: string;
  /** Path under the registry (/v2/…) or an absolute URL (upload locations, redirects). */
  url: string;
  headers?: Record<string, string>;
  body?: Body;
  /** Scope this call needs, e.g. repository:app:pull,push */
  scope: string;
  /** Statuses that count as an answer (others raise). */
  ok: number[];
  /** Don't retry (the body was a one-shot stream already partly sent elsewhere). */
  once?: boolean;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Dispatcher.ResponseData["body"];
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  json: any;
}

export const sha256 = (data: Buffer | string) => "sha256:" + createHash("sha256").update(data).digest("hex");

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

function headerMap(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (values may contain commas). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^(\w+)\s*(.*)$/s.exec(header.trim());
  const params: Record<string, string> = {};
  if (!m) return { scheme: "", params };
  for (const p of m[2].matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1].toLowerCase()] = p[2] ?? p[3];
  return { scheme: m[1].toLowerCase(), params };
}

export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  /** Bytes of blobs and manifests sent successfully. */
  uploadedBytes = 0;
  private readonly dispatcher: Agent;
  private readonly tokens = new Map<string, string>();
  /** Once a registry has asked for basic auth, send it up front. */
  private basic = false;
  private bearer?: { realm: string; service?: string };

  constructor(
    registry: string,
    private readonly opts: RegistryOptions = {},
  ) {
    this.registry = registry;
    // Loopback registries speak plain HTTP (as docker assumes) unless a CA says they use TLS.
    const plain = opts.plainHttp ?? (isLoopback(registry) && !opts.ca);
    this.baseUrl = `${plain ? "http" : "https"}://${registry}`;
    // A CA given for the registry is trusted beside the system's (giving `ca` alone would replace
    // them, and blob redirects go to public storage hosts).
    const ca = opts.ca ? [...rootCertificates, opts.ca.toString()] : undefined;
    this.dispatcher = new Agent({ connect: ca ? { ca } : {}, headersTimeout: 120_000, bodyTimeout: 300_000 });
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => {});
  }

  // ---- manifests ----------------------------------------------------------------------------

  async getManifest(repository: string, reference: string): Promise<Manifest> {
    const r = await this.send({ method: "GET", url: `/v2/${repository}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, scope: `repository:${repository}:pull`, ok: [200, 404] });
    const bytes = Buffer.from(await r.body.arrayBuffer());
    if (r.status === 404) throw new RegistryError(`${this.registry}/${repository}:${reference} not found`, { status: 404, hint: "check the image name and tag (or digest)" });
    const json = JSON.parse(bytes.toString("utf8"));
    const mediaType = json.mediaType ?? r.headers["content-type"]?.split(";")[0] ?? "";
    const digest = sha256(bytes);
    if (reference.startsWith("sha256:") && digest !== reference) throw new RegistryError(`${this.registry}/${repository}: manifest ${reference} arrived with digest ${digest}`);
    return { bytes, mediaType, digest, json };
  }

  /** The digest the registry holds under a tag (or undefined). */
  async headManifest(repository: string, reference: string): Promise<string | undefined> {
    const r = await this.send({ method: "HEAD", url: `/v2/${repository}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, scope: `repository:${repository}:pull`, ok: [200, 404] });
    await r.body.dump();
    return r.status === 200 ? r.headers["docker-content-digest"] : undefined;
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const r = await this.send({
      method: "PUT",
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { "content-type": mediaType },
      body: bytes,
      scope: `repository:${repository}:pull,push`,
      ok: [201, 200],
    });
    await r.body.dump();
    this.uploadedBytes += bytes.length;
    return r.headers["docker-content-digest"] ?? sha256(bytes);
  }

  // ---- blobs --------------------------------------------------------------------------------

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const r = await this.send({ method: "HEAD", url: `/v2/${repository}/blobs/${digest}`, scope: `repository:${repository}:pull`, ok: [200, 404] });
    await r.body.dump();
    return r.status === 200;
  }

  /** Cross-repository mount: true when the registry linked the blob without an upload. */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const r = await this.send({
      method: "POST",
      url: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      headers: { "content-length": "0" },
      scope: `repository:${repository}:pull,push repository:${from}:pull`,
      ok: [201, 202],
    });
    await r.body.dump();
    if (r.status === 202 && r.headers.location) {
      // Not mounted; the registry opened an upload session instead. Cancel it.
      await this.send({ method: "DELETE", url: r.headers.location, scope: `repository:${repository}:pull,push`, ok: [200, 202, 204, 404, 405] })
        .then((x) => x.body.dump())
        .catch(() => {});
    }
    return r.status === 201;
  }

  /** Uploads a blob from a file or buffer in chunks; returns the bytes sent. */
  async uploadBlob(repository: string, digest: string, source: { path: string; size: number } | Buffer, onProgress?: (sent: number, total: number) => void): Promise<number> {
    const size = Buffer.isBuffer(source) ? source.length : source.size;
    const chunk = this.opts.chunkSize ?? 32 * 1024 * 1024;
    const scope = `repository:${repository}:pull,push`;
    const attempts = this.opts.retries ?? 4;
    for (let attempt = 1; ; attempt++) {
      try {
        const start = await this.send({ method: "POST", url: `/v2/${repository}/blobs/uploads/`, headers: { "content-length": "0" }, scope, ok: [202] });
        await start.body.dump();
        let location = this.location(start);
        let sent = 0;
        while (sent < size) {
          const end = Math.min(size, sent + chunk);
          const from = sent;
          const body: Body = Buffer.isBuffer(source) ? source.subarray(from, end) : () => createReadStream(source.path, { start: from, end: end - 1 });
          const r = await this.send({
            method: "PATCH",
            url: location,
            headers: { "content-type": "application/octet-stream", "content-length": String(end - from), "content-range": `${from}-${end - 1}` },
            body,
            scope,
            ok: [202, 201, 204],
            once: true,
          });
          await r.body.dump();
          location = this.location(r, location);
          sent = end;
          onProgress?.(sent, size);
        }
        const sep = location.includes("?") ? "&" : "?";
        const done = await this.send({ method: "PUT", url: `${location}${sep}digest=${encodeURIComponent(digest)}`, headers: { "content-length": "0" }, scope, ok: [201, 204], once: true });
        await done.body.dump();
        this.uploadedBytes += size;
        return size;
      } catch (err) {
        if (attempt >= attempts || !transient(err) || this.opts.signal?.aborted) throw err;
        await sleep(backoff(attempt), this.opts.signal);
      }
    }
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const r = await this.fetchBlob(repository, digest);
    const bytes = Buffer.from(await r.body.arrayBuffer());
    if (sha256(bytes) !== digest) throw new RegistryError(`${this.registry}/${repository}: blob ${digest} arrived corrupted (digest mismatch)`);
    return bytes;
  }

  /** Downloads a blob to `dest` (via a temp file), verifying its digest. */
  async downloadBlob(repository: string, digest: string, dest: string, onProgress?: (received: number) => void): Promise<void> {
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.${Date.now()}.part`;
    const attempts = this.opts.retries ?? 4;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.fetchBlob(repository, digest);
        const hash = createHash("sha256");
        let received = 0;
        r.body.on("data", (c: Buffer) => {
          hash.update(c);
          received += c.length;
          onProgress?.(received);
        });
        await pipeline(r.body, createWriteStream(tmp));
        const got = "sha256:" + hash.digest("hex");
        if (got !== digest) throw new RegistryError(`${this.registry}/${repository}: blob ${digest} arrived corrupted (got ${got})`);
        await rename(tmp, dest);
        return;
      } catch (err) {
        await rm(tmp, { force: true });
        if (attempt >= attempts || !transient(err) || this.opts.signal?.aborted) throw err;
        await sleep(backoff(attempt), this.opts.signal);
      }
    }
  }

  private async fetchBlob(repository: string, digest: string): Promise<Reply> {
    let r = await this.send({ method: "GET", url: `/v2/${repository}/blobs/${digest}`, scope: `repository:${repository}:pull`, ok: [200, 307, 302, 301, 303, 308, 404] });
    for (let hops = 0; r.status >= 300 && r.status < 400; hops++) {
      await r.body.dump();
      if (hops > 5 || !r.headers.location) throw new RegistryError(`${this.registry}: too many redirects for blob ${digest}`);
      // Redirects go to storage (S3, CloudFront): no registry credentials there.
      r = await this.raw("GET", new URL(r.headers.location, this.baseUrl).toString(), {});
    }
    if (r.status === 404) {
      await r.body.dump();
      throw new RegistryError(`${this.registry}/${repository}: blob ${digest} not found`, { status: 404 });
    }
    if (r.status !== 200) {
      const text = await r.body.text().catch(() => "");
      throw new RegistryError(`${this.registry}: GET blob ${digest} answered ${r.status} ${text.slice(0, 200)}`, { status: r.status });
    }
    return r;
  }

  private location(r: Reply, fallback?: string): string {
    const loc = r.headers.location ?? fallback;
    if (!loc) throw new RegistryError(`${this.registry}: upload answered ${r.status} without a Location header`);
    return new URL(loc, this.baseUrl).toString();
  }

  // ---- transport and auth -------------------------------------------------------------------

  private async raw(method: string, url: string, headers: Record<string, string>, body?: Body): Promise<Reply> {
    try {
      const r = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers: { "user-agent": "imgfn", ...headers },
        body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : body(),
        dispatcher: this.dispatcher,
        signal: this.opts.signal,
      });
      return { status: r.statusCode, headers: headerMap(r.headers as Record<string, string | string[]>), body: r.body };
    } catch (err) {
      throw this.networkError(err, url);
    }
  }

  private networkError(err: unknown, url: string): unknown {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code ?? "";
    if (e.name === "AbortError") return err;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|EPROTO/.test(code) || /certificate/i.test(e.message)) {
      return new RegistryError(`TLS to ${this.registry} failed: ${e.message} (${code})`, {
        cause: err,
        hint: "if the registry uses its own certificate authority, pass its CA with --registry-ca <pem-file>",
      });
    }
    const wrapped = new RegistryError(`cannot reach registry ${this.registry} (${url.replace(/\?.*$/, "")}): ${code || e.message}`, {
      cause: err,
      hint: `check the registry address and your network; push to another registry with --registry <host[:port]>, or take the base image from a registry you can reach ("baseImage" in imgfn.config.json, or --base-image)`,
    });
    (wrapped as any).transient = true;
    return wrapped;
  }

  private async authHeaders(scope: string): Promise<Record<string, string>> {
    if (this.bearer) return { authorization: `Bearer ${await this.token(scope)}` };
    if (this.basic && this.opts.auth) return { authorization: basicHeader(this.opts.auth) };
    return {};
  }

  private async token(scope: string, force = false): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached && !force) return cached;
    const { realm, service } = this.bearer!;
    const url = new URL(realm);
    if (service) url.searchParams.set("service", service);
    for (const s of scope.split(" ")) url.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    if (this.opts.auth) headers.authorization = basicHeader(this.opts.auth);
    const r = await this.raw("GET", url.toString(), headers);
    const text = await r.body.text();
    if (r.status === 401 || r.status === 403) throw this.authError(r.status);
    if (r.status !== 200) throw new RegistryError(`${this.registry}: token service ${url.origin} answered ${r.status}: ${text.slice(0, 200)}`, { status: r.status });
    const json = JSON.parse(text);
    const token = json.token ?? json.access_token;
    if (!token) throw new RegistryError(`${this.registry}: token service ${url.origin} returned no token`);
    this.tokens.set(scope, token);
    return token;
  }

  private authError(status: number): RegistryError {
    const who = this.opts.auth ? `the credentials for user "${this.opts.auth.username}"` : "anonymous access";
    return new RegistryError(`registry ${this.registry} rejected ${who} (HTTP ${status})`, {
      status,
      hint: this.opts.auth
        ? "check the password or token (an ECR token expires after 12 hours: run again to get a fresh one)"
        : "the registry needs credentials: log in or pass them (for ECR, imgfn fetches a token with your AWS credentials)",
    });
  }

  /** One call with auth, challenge handling and retries. */
  private async send(o: SendOptions): Promise<Reply> {
    const url = o.url.startsWith("http") ? o.url : this.baseUrl + o.url;
    const attempts = o.once ? 1 : (this.opts.retries ?? 4);
    let challenged = false;
    for (let attempt = 1; ; attempt++) {
      let r: Reply;
      try {
        r = await this.raw(o.method, url, { ...(o.headers ?? {}), ...(await this.authHeaders(o.scope)) }, o.body);
      } catch (err) {
        if (attempt < attempts && transient(err) && !this.opts.signal?.aborted) {
          await sleep(backoff(attempt), this.opts.signal);
          continue;
        }
        throw err;
      }
      if (r.status === 401 && !challenged) {
        challenged = true;
        await r.body.dump();
        const { scheme, params } = parseChallenge(r.headers["www-authenticate"] ?? "");
        if (scheme === "bearer" && params.realm) {
          this.bearer = { realm: params.realm, service: params.service };
          const scope = [...new Set([...(params.scope ? params.scope.split(" ") : []), ...o.scope.split(" ")])].join(" ");
          const token = await this.token(scope, true);
          this.tokens.set(o.scope, token);
        } else if (scheme === "basic") {
          if (!this.opts.auth) throw this.authError(401);
          this.basic = true;
        } else {
          throw this.authError(401);
        }
        attempt--; // the challenge round does not count as a retry (stream bodies are re-created)
        continue;
      }
      if (r.status === 401) {
        await r.body.dump();
        throw this.authError(401);
      }
      if (r.status === 403) {
        const text = await r.body.text().catch(() => "");
        throw new RegistryError(`${this.registry}: ${o.method} ${new URL(url).pathname} denied (HTTP 403)${describeErrors(text)}`, {
          status: 403,
          hint: "the credentials lack permission for this repository (for ECR: ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage)",
        });
      }
      if (o.ok.includes(r.status)) return r;
      const text = await r.body.text().catch(() => "");
      if ((r.status >= 500 || r.status === 429) && attempt < attempts) {
        await sleep(backoff(attempt), this.opts.signal);
        continue;
      }
      const err = new RegistryError(`${this.registry}: ${o.method} ${new URL(url).pathname} answered HTTP ${r.status}${describeErrors(text)}`, { status: r.status });
      if (r.status >= 500 || r.status === 429) (err as any).transient = true;
      throw err;
    }
  }
}

function basicHeader(auth: RegistryAuth): string {
  return "Basic " + Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
}

function describeErrors(text: string): string {
  try {
    const errors = JSON.parse(text).errors as { code: string; message: string }[];
    if (errors?.length) return ": " + errors.map((e) => `${e.code} ${e.message}`).join("; ");
  } catch {
    /* not JSON */
  }
  return text ? `: ${text.slice(0, 200)}` : "";
}

function transient(err: unknown): boolean {
  return Boolean((err as any)?.transient);
}

function backoff(attempt: number): number {
  return Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
}
