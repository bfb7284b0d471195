/** The local S3 server on its own, for its tests: a data folder, the events it emits, raw requests. */
import { readdir, stat } from "node:fs/promises";
import { request } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalS3, type LocalS3, type S3Notification } from "../../src/local/s3.js";

export interface LocalS3Fixture {
  dir: string;
  server: LocalS3;
  events: S3Notification[];
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalS3Fixture(buckets: string[] = ["test-bucket"]): Promise<LocalS3Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "imgfn-local-s3-"));
  const events: S3Notification[] = [];
  const start = (port?: number) => startLocalS3({ directory: join(dir, "data"), buckets, port, onEvent: (n) => events.push(n) });
  const fixture: LocalS3Fixture = {
    dir,
    server: await start(),
    events,
    async restart() {
      const port = fixture.server.port;
      await fixture.server.close();
      fixture.server = await start(port);
    },
    async close() {
      await fixture.server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** Every file under a folder with its size: a refusal must leave this unchanged. */
export async function footprint(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${p}:${(await stat(p)).size}`);
    }
  };
  await walk(dir);
  return out.sort();
}

/** A raw HTTP request (any Host, any headers), as a browser or an attacker would send it. */
export function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? "GET", headers: opts.headers, setHost: !opts.headers?.host }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}
