/** `imgfn build` end to end against a real registry: digest, layer sizes, --json, repeatability. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../src/image/registry.js";
import { runCli } from "../helpers/cli.js";
import { pushSyntheticBase, startRegistry, type TestRegistry } from "../helpers/registry.js";

let registry: TestRegistry;
let work: string;
let env: NodeJS.ProcessEnv;
let baseRef: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "imgfn-build-cli-"));
  env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };
  registry = await startRegistry({ auth: { username: "ci", password: "pw-for-tests" } });
  baseRef = (await pushSyntheticBase(registry, "lambda/nodejs", { auth: { username: "ci", password: "pw-for-tests" } })).ref;
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("imgfn build", () => {
  it("pushes, prints the digest and each layer's size, and gives the same digest twice", async () => {
    const args = ["build", "--builder", "oci", "--arch", "arm64", "--base-image", baseRef, "--push", `${registry.host}/imgfn-cli`, "--tag", "t1"];
    const authEnv = { ...env, IMGFN_REGISTRY_USERNAME: "ci", IMGFN_REGISTRY_PASSWORD: "pw-for-tests" };
    const human = await runCli(args, { cwd: work, env: authEnv });
    expect(human.stderr).not.toMatch(/error/);
    expect(human.code).toBe(0);
    const digest = /digest\s+(sha256:[0-9a-f]{64})/.exec(human.stdout)![1];
    expect(human.stdout).toMatch(/node_modules\s+[\d.]+ MiB\s+[\d.]+ MiB\s+pushed/);
    expect(human.stdout).toMatch(/handler\s+[\d.]+ KiB\s+[\d.]+ (KiB|MiB)\s+pushed/);

    const json = await runCli(["--json", ...args], { cwd: work, env: authEnv });
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ digest, architecture: "arm64", builder: "oci", uploadedBytes: 0, imageUri: `${registry.host}/imgfn-cli@${digest}` });
    expect(result.layers.map((l: any) => l.kind)).toEqual(["base", "node_modules", "model", "handler"]);

    const client = new RegistryClient(registry.host, { auth: { username: "ci", password: "pw-for-tests" } });
    try {
      expect((await client.getManifest("imgfn-cli", "t1")).digest).toBe(digest);
    } finally {
      await client.close();
    }
  });

  it("fails with exit code 1 and the fix when the registry wants credentials", async () => {
    const r = await runCli(["build", "--builder", "oci", "--base-image", baseRef, "--push", `${registry.host}/imgfn-cli`], { cwd: work, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: registry 127\.0\.0\.1:\d+ rejected anonymous access \(HTTP 401\)/);
    expect(r.stderr).toMatch(/next step: /);
  });

  it("rejects a bad --arch as a usage error", async () => {
    const r = await runCli(["build", "--arch", "amd64"], { cwd: work, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--arch must be x86_64 or arm64/);
  });
});
