/** `imgfn dev --json` as a child process in a project folder, with its first JSON line (the state). */
import { type ChildProcess, spawn } from "node:child_process";
import { bin, cliEnv, until } from "../e2e/helpers.js";

export interface DevProcess {
  child: ChildProcess;
  state: Record<string, any>;
  /** Every stdout line after the state: the function's log events as JSON. */
  lines: string[];
  /** Resolves with dev's exit code. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export async function startDev(project: string, args: string[] = []): Promise<DevProcess> {
  const child = spawn("node", [bin, "--json", "dev", ...args], { cwd: project, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const lines: string[] = [];
  let buf = "";
  child.stdout!.on("data", (d) => {
    buf += d;
    const parts = buf.split("\n");
    buf = parts.pop()!;
    lines.push(...parts);
  });
  const state = await until("imgfn dev to report its endpoints", () => {
    if (child.exitCode !== null) throw new Error(`imgfn dev exited early (${child.exitCode}): ${stderr}`);
    return lines.length > 0 ? JSON.parse(lines[0]) : undefined;
  });
  return {
    child,
    state,
    lines,
    exited,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
