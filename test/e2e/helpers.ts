// Shared bits for the end-to-end tests: run the built CLI as a user would, and check processes.
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const bin = fileURLToPath(new URL("../../bin/imgfn.js", import.meta.url));
export const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

/** Environment for the CLI under test: CI's model mirror, no colours, no stray AWS settings. */
export function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const k of Object.keys(env)) if (k.startsWith("AWS_") || k === "NODE_OPTIONS") delete env[k];
  return env;
}

export function imgfn(args: string[], cwd: string, opts: { reject?: boolean; timeout?: number } = {}): ResultPromise<{ cwd: string; env: NodeJS.ProcessEnv; extendEnv: false; reject: boolean; timeout: number }> {
  return execa("node", [bin, ...args], { cwd, env: cliEnv(), extendEnv: false, reject: opts.reject ?? false, timeout: opts.timeout ?? 120_000 });
}

/** True when no such process exists any more (a zombie counts as gone: it runs nothing). */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
}

/** Every descendant of a process (Linux /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (!children.has(ppid)) children.set(ppid, []);
        children.get(ppid)!.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    return [];
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
