/**
 * Hints that run as printed, for each way imgfn gets installed: `npm install -g .` (the same
 * layout `npm link` makes) puts `imgfn` on PATH; a project depending on imgfn runs it with
 * `npx imgfn`; started by path, it prints `node <path>/bin/imgfn.js`. Each printed next step is
 * then run as printed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { bin, cliEnv, repoRoot } from "./helpers.js";

const dirs: string[] = [];
const tmp = (name: string) => {
  const d = mkdtempSync(join(tmpdir(), `imgfn-${name}-`));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const nextStep = (stdout: string) => /Next: (.+) --dry-run, then/.exec(stdout)?.[1];
const sh = (cmd: string, cwd: string, env: NodeJS.ProcessEnv = cliEnv()) => execa("bash", ["-c", cmd], { cwd, env, extendEnv: false, reject: false, timeout: 120_000 });

describe("the invocation imgfn prints", () => {
  it("is `imgfn` after npm install -g, and that hint runs", async () => {
    const prefix = tmp("global");
    const install = await execa("npm", ["install", "-g", ".", "--prefix", prefix, "--no-audit", "--no-fund"], { cwd: repoRoot, reject: false });
    expect(install.exitCode).toBe(0);
    const env = { ...cliEnv(), PATH: `${join(prefix, "bin")}:${process.env.PATH}` };
    const project = tmp("uses-global");
    const init = await sh("imgfn init", project, env);
    expect(init.exitCode).toBe(0);
    expect(nextStep(init.stdout)).toBe("imgfn deploy");
    const help = await sh("imgfn deploy --help", project, env);
    expect(help.stdout).toContain("$ imgfn deploy --dry-run");
  }, 180_000);

  it("is `npx imgfn` in a project that depends on imgfn", async () => {
    const project = tmp("depends");
    await execa("npm", ["init", "-y"], { cwd: project });
    const add = await execa("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", repoRoot], { cwd: project, reject: false });
    expect(add.exitCode).toBe(0);
    const init = await sh("npx imgfn init --app dep", project);
    expect(init.stderr).not.toMatch(/npm warn/);
    expect(init.exitCode).toBe(0);
    expect(nextStep(init.stdout)).toBe("npx imgfn deploy");
    const again = await sh("npx imgfn init", project);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain("next step: edit it, or run npx imgfn init --force to overwrite it");
    const forced = await sh("npx imgfn init --force", project);
    expect(forced.exitCode).toBe(0);
  }, 180_000);

  it("is `node <path>/bin/imgfn.js` when started by path from elsewhere, and that runs", async () => {
    const project = tmp("by-path");
    const init = await sh(`node ${bin} init`, project);
    expect(init.exitCode).toBe(0);
    const printed = nextStep(init.stdout)!;
    expect(printed).toMatch(/^node \S*bin\/imgfn\.js deploy$/);
    const help = await sh(`${printed} --help`, project);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("Usage: imgfn deploy");
  }, 180_000);
});
