/** Shared helpers for the AWS unit tests: AWS-shaped errors, a no-wait waiter, and main() with captured streams. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { main } from "../../src/cli.js";
import type { Waiter } from "../../src/aws/retry.js";

/** An error shaped like the SDK's: name, message, HTTP status. */
export function awsError(name: string, message: string, status = 400, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status }, ...extra });
}

export function instantWaiter(): Waiter & { waits: string[]; slept: number[] } {
  const waits: string[] = [];
  const slept: number[] = [];
  return { waits, slept, sleep: async (ms) => void slept.push(ms), onWait: (m) => void waits.push(m) };
}

class Capture extends Writable {
  text = "";
  _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

export async function runCli(argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, cwd: opts.cwd, env: opts.env ?? {}, interactive: false, color: false });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

export function projectDir(config: Record<string, unknown> = { app: "demo", region: "eu-west-1" }): string {
  const dir = mkdtempSync(join(tmpdir(), "imgfn-aws-test-"));
  writeFileSync(join(dir, "imgfn.config.json"), JSON.stringify(config));
  return dir;
}

export const ACCOUNT = "123456789012";
export const REGION = "eu-west-1";
export const REPO_URI = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/imgfn-demo`;
export const DIGEST_A = "sha256:" + "a".repeat(64);
export const DIGEST_B = "sha256:" + "b".repeat(64);
