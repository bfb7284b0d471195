/** Drives the built CLI under a pseudo-terminal of a chosen width (test/helpers/run_in_pty.py). */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

const script = fileURLToPath(new URL("./run_in_pty.py", import.meta.url));
const bin = fileURLToPath(new URL("../../bin/imgfn.js", import.meta.url));

export interface PtyRun {
  bytes: number;
  exitCode: number;
  killed: boolean;
  /** What the terminal received (up to 1 MiB), escapes included. */
  output: string;
}

export async function imgfnUnderPty(args: string[], opts: { columns: number; cwd: string; env?: NodeJS.ProcessEnv; timeoutSeconds?: number }): Promise<PtyRun> {
  const dir = mkdtempSync(join(tmpdir(), "imgfn-pty-"));
  try {
    const file = join(dir, "out");
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm-256color", ...opts.env };
    for (const k of ["CI", "COLUMNS", "LINES", "NO_COLOR"]) if (!(opts.env && k in opts.env)) delete env[k];
    const { stdout } = await execa("python3", [script, String(opts.columns), String(opts.timeoutSeconds ?? 60), file, process.execPath, bin, ...args], { cwd: opts.cwd, env, extendEnv: false });
    return { ...JSON.parse(stdout), output: readFileSync(file, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
