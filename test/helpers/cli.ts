/** Runs the CLI in-process (src/cli.ts main) with captured stdout/stderr. */
import { Writable } from "node:stream";
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
