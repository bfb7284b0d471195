/** Runs the CLI in-process (src/cli.ts main) with captured stdout/stderr, or the built one as its own process. */
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink() {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

export async function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<CliRun> {
  const out = sink();
  const err = sink();
  const code = await main(args, { stdout: out.stream, stderr: err.stream, interactive: false, color: false, invocation: "imgfn", ...opts, env: opts.env ?? process.env });
  return { code, stdout: out.text(), stderr: err.text() };
}

const BIN = join(dirname(fileURLToPath(import.meta.url)), "../../bin/imgfn.js");

/**
 * The built CLI (bin/imgfn.js → dist/) in its own process, as a user runs it: the AWS SDK then
 * reads this environment (AWS_ENDPOINT_URL, credentials), not the test process's.
 */
export function runBuiltCli(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: opts.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
