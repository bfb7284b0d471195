/**
 * CLI habits users bring from SAM, Serverless and wrangler: one JSON document under --json
 * (errors included), exit code 2 for usage and configuration errors, aliases, examples and the
 * applicable global options in every command's --help, and local problems reported before any
 * AWS call.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commands } from "../../src/commands/index.js";
import { repoRoot } from "../e2e/helpers.js";
import { runCli } from "../helpers/cli.js";

const project = (config: Record<string, unknown> = { app: "conv", region: "eu-west-1" }) => {
  const dir = mkdtempSync(join(tmpdir(), "imgfn-conv-"));
  writeFileSync(join(dir, "imgfn.config.json"), JSON.stringify(config));
  return dir;
};
// no credentials anywhere: a command that reached AWS would fail on them, not on the input
const noAws = { PATH: process.env.PATH, HOME: "/nonexistent", AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent", IMGFN_MODEL_MIRROR: process.env.IMGFN_MODEL_MIRROR };

describe("--json: exactly one JSON document on stdout", () => {
  it("an unknown command answers {error} with exit code 2", async () => {
    const r = await runCli(["--json", "destory"], { env: noAws });
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc.error).toMatchObject({ code: "USAGE", next: "run with --help for usage" });
    expect(doc.error.message).toContain("unknown command 'destory'");
  });

  it("a missing upload file: {error:{code:NOT_FOUND}} and exit code 2, before any credentials are needed", async () => {
    const r = await runCli(["upload", "/nonexistent.jpg", "--json"], { cwd: project(), env: noAws });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: "NOT_FOUND", message: "no such file or folder: /nonexistent.jpg", next: expect.any(String) } });
    expect(r.stderr).not.toMatch(/credentials/i);
  });

  it("a configuration error names the flag, not imgfn.config.json, and exits 2", async () => {
    const r = await runCli(["deploy", "--memory", "99999", "--json"], { cwd: project(), env: noAws });
    expect(r.code).toBe(2);
    const { error } = JSON.parse(r.stdout);
    expect(error.code).toBe("CONFIG_ERROR");
    expect(error.message).toMatch(/^--memory: /);
    expect(error.message).not.toContain("imgfn.config.json");
  });

  it("init --memory 99999 names the flag too, and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "imgfn-init-flag-"));
    const r = await runCli(["init", "--memory", "99999"], { cwd: dir, env: noAws });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: --memory: "memory" must be an integer from 128 to 10240`);
    expect(existsSync(join(dir, "imgfn.config.json"))).toBe(false);
  });

  it("--version --json is {version}", async () => {
    const r = await runCli(["--version", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const text = await runCli(["--version"]);
    expect(text.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("exit code 2 for usage and configuration errors", () => {
  it("dev --s3-port 99999 is a usage error and does not suggest --debug", async () => {
    const r = await runCli(["dev", "--s3-port", "99999"], { cwd: project(), env: noAws });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--s3-port must be a port number from 0 (any free port) to 65535");
    expect(r.stderr).not.toContain("--debug");
  });

  it("invoke --event /nonexistent.json exits 2 and says how to make an event", async () => {
    const r = await runCli(["invoke", "--local", "--event", "/nonexistent.json"], { cwd: project(), env: noAws });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: no such event file: /nonexistent.json");
    expect(r.stderr).toContain("imgfn event s3 --key");
  });

  it("upload --prefix results/ is refused before anything is uploaded or any AWS call", async () => {
    const dir = project();
    writeFileSync(join(dir, "cat.jpg"), "x");
    const r = await runCli(["upload", "cat.jpg", "--prefix", "results/"], { cwd: dir, env: noAws });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--prefix results/ is inside the output prefix "results/"`);
    expect(r.stderr).not.toMatch(/credentials|Uploading/i);
  });
});

describe("aliases", () => {
  for (const alias of ["delete", "remove", "destroy"]) {
    it(`${alias} is teardown`, async () => {
      const r = await runCli([alias, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: imgfn teardown\|/m);
      expect(r.stdout).toContain("--delete-bucket");
    });
  }

  it("logs takes --tail and -t for --follow", async () => {
    const r = await runCli(["logs", "--help"]);
    expect(r.stdout).toMatch(/-f, --follow/);
    expect(r.stdout).toMatch(/-t, --tail/);
  });
});

describe("--help of every command", () => {
  for (const entry of commands) {
    const name = entry.usage.split(" ")[0];
    it(`${name} --help shows 2-4 examples and the global options that apply`, async () => {
      const r = await runCli([name, "--help"]);
      expect(r.code).toBe(0);
      const examples = r.stdout.split("Examples:\n")[1]?.split("\n").filter((l) => l.startsWith("  $ imgfn ")) ?? [];
      expect(examples.length).toBeGreaterThanOrEqual(2);
      expect(examples.length).toBeLessThanOrEqual(4);
      expect(r.stdout).toContain("--json");
    });
  }

  it("init --help lists --region, as the README uses it", async () => {
    const r = await runCli(["init", "--help"]);
    expect(r.stdout).toContain("--region <region>");
  });

  it("teardown --help lists --yes; predict --help does not list AWS options", async () => {
    expect((await runCli(["teardown", "--help"])).stdout).toContain("-y, --yes");
    const predict = (await runCli(["predict", "--help"])).stdout;
    expect(predict).not.toContain("--endpoint-url");
    expect(predict).not.toContain("--yes");
  });
});

describe("small things", () => {
  it("model info counts the labels even when the weights are missing", async () => {
    const r = await runCli(["model", "info"], { env: { PATH: process.env.PATH, XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "imgfn-nocache-")) } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/labels\s+1000 classes/);
    expect(r.stdout).toContain("not available");
  });

  it("the default app name comes from the folder's name, made valid", async () => {
    const base = mkdtempSync(join(tmpdir(), "imgfn-app-"));
    const dir = join(base, "My Cat Photos!");
    mkdirSync(dir);
    const r = await runCli(["event", "s3"], { cwd: dir, env: noAws });
    expect(JSON.parse(r.stdout).Records[0].s3.bucket.name).toBe("imgfn-my-cat-photos-local");
    const odd = join(base, "___");
    mkdirSync(odd);
    const fallback = await runCli(["event", "s3"], { cwd: odd, env: noAws });
    expect(JSON.parse(fallback.stdout).Records[0].s3.bucket.name).toBe("imgfn-imgfn-local");
  });

  it("status --since takes logs' durations; a bare number is refused with the unit to add", async () => {
    const r = await runCli(["status", "--since", "24"], { cwd: project(), env: noAws });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--since must be a duration like 30s, 10m, 2h, 1d or an ISO time (got "24")`);
    expect(r.stderr).toContain("next step: add the unit, e.g. --since 24h");
    expect((await runCli(["status", "--help"])).stdout).toMatch(/--since <when>.*\(30m, 2h, 1d\)/);
  });

  it("predict takes a folder, as upload does, classifying the images in it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "imgfn-predict-dir-"));
    const photos = join(dir, "photos");
    mkdirSync(join(photos, "more"), { recursive: true });
    copyFileSync(join(repoRoot, "samples", "cat.jpg"), join(photos, "cat.jpg"));
    copyFileSync(join(repoRoot, "samples", "espresso.jpg"), join(photos, "more", "espresso.JPG"));
    writeFileSync(join(photos, "notes.txt"), "not an image");
    const r = await runCli(["predict", "photos", "--json", "--top", "1"], { cwd: dir });
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout);
    expect(results.map((x: any) => x.file)).toEqual([join("photos", "cat.jpg"), join("photos", "more", "espresso.JPG")]);
    expect(results[1].predictions[0].label).toBe("espresso");
  });
});

describe("README and --help agree", () => {
  it("every flag the README gives an imgfn command is in that command's --help", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n"));
    const spans = [...readme.matchAll(/`((?:npx )?imgfn [^`]+)`/g)].map((m) => m[1]);
    const uses = [...blocks, ...spans].map((l) => l.replace(/#.*$/, "").trim()).filter((l) => /^(npx )?imgfn \w/.test(l));
    expect(uses.length).toBeGreaterThan(15);
    const checked: string[] = [];
    for (const use of uses) {
      const words = use.replace(/^npx /, "").split(/\s+/).slice(1);
      if (words[0].startsWith("-")) continue; // global flags before the command
      const command = ["model", "event"].includes(words[0]) && words[1] && !words[1].startsWith("-") ? words.slice(0, 2) : words.slice(0, 1);
      const help = (await runCli([...command, "--help"])).stdout;
      for (const flag of words.filter((w) => /^--?[a-z]/.test(w)).map((w) => w.replace(/[=[].*$/, "").replace(/[\]…,)]+$/, ""))) {
        expect(help, `${use}: ${flag} is not in "imgfn ${command.join(" ")} --help"`).toMatch(new RegExp(`(^|[\\s,])${flag.replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&")}(?=[\\s,<]|$)`, "m"));
        checked.push(`${command.join(" ")} ${flag}`);
      }
    }
    expect(checked).toEqual(expect.arrayContaining(["init --region", "logs --follow", "event s3 --key", "predict --model"]));
  });
});
