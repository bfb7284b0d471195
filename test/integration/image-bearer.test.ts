/**
 * The base image's default home, public.ecr.aws, hands out anonymous bearer tokens and redirects
 * blob downloads to storage hosts. A real registry behind a loopback proxy plays that part here:
 * 401 with a Bearer challenge, a token service, and 307 redirects for blobs.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OciBuilder } from "../../src/image/oci.js";
import { RegistryClient } from "../../src/image/registry.js";
import { stageFunction, type StagedFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { pushSyntheticBase, startRegistry, type TestRegistry } from "../helpers/registry.js";

let upstream: TestRegistry;
let proxy: Server;
let proxyHost: string;
let work: string;
let staged: StagedFunction;
let baseRef: string;
const tokenScopes: string[] = [];
const storageAuthHeaders: (string | undefined)[] = [];
const issued = new Set<string>();

function forward(req: IncomingMessage, res: ServerResponse, path: string) {
  const u = new URL(upstream.url);
  const headers = { ...req.headers, host: u.host };
  delete headers.authorization;
  const fwd = request({ host: u.hostname, port: u.port, path, method: req.method, headers }, (up) => {
    const out = { ...up.headers };
    if (typeof out.location === "string") out.location = out.location.replace(upstream.url, `http://${proxyHost}`);
    res.writeHead(up.statusCode!, out);
    up.pipe(res);
  });
  req.pipe(fwd);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "imgfn-bearer-"));
  upstream = await startRegistry();
  const base = await pushSyntheticBase(upstream, "lambda/nodejs");
  proxy = createServer((req, res) => {
    const url = new URL(req.url!, `http://${proxyHost}`);
    if (url.pathname === "/token") {
      // anonymous, like public.ecr.aws: no credentials, a token per request
      tokenScopes.push(...url.searchParams.getAll("scope"));
      const token = `tok-${issued.size + 1}`;
      issued.add(token);
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ token }));
    }
    if (url.pathname.startsWith("/storage/")) {
      storageAuthHeaders.push(req.headers.authorization);
      return forward(req, res, url.pathname.slice("/storage".length) + url.search);
    }
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("Bearer ") || !issued.has(auth.slice(7))) {
      res.writeHead(401, { "www-authenticate": `Bearer realm="http://${proxyHost}/token",service="test-registry"`, "content-type": "application/json" });
      return res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
    }
    if (req.method === "GET" && /\/blobs\/sha256:/.test(url.pathname)) {
      res.writeHead(307, { location: `http://${proxyHost}/storage${url.pathname}` });
      return res.end();
    }
    forward(req, res, url.pathname + url.search);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyHost = `127.0.0.1:${(proxy.address() as any).port}`;
  baseRef = base.ref.replace(upstream.host, proxyHost);
  staged = await stageFunction(await loadModel(), join(work, "task"));
}, 180_000);

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await upstream?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("a base image behind bearer-token auth and blob redirects", () => {
  it("fetches a token for the pull scope, follows blob redirects without credentials, and pushes elsewhere", async () => {
    const target = await startRegistry();
    try {
      const env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };
      const r = await new OciBuilder({ env }).build({ staged, architecture: "x86_64", baseImage: baseRef, repository: `${target.host}/imgfn-app`, tag: "v1" });
      expect(tokenScopes).toContain("repository:lambda/nodejs:pull");
      expect(storageAuthHeaders.length).toBeGreaterThan(0); // base layers came through the redirect
      expect(storageAuthHeaders.every((h) => h === undefined)).toBe(true);
      expect(r.baseDigest).toMatch(/sha256:[0-9a-f]{64}$/);
      const client = new RegistryClient(target.host);
      try {
        expect((await client.getManifest("imgfn-app", "v1")).digest).toBe(r.digest);
      } finally {
        await client.close();
      }
    } finally {
      await target.stop();
    }
  });
});
