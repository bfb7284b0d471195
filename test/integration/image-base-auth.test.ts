/**
 * A private base image on another registry than the push target: its credentials come from the
 * Docker config (auths, or a credential helper) or IMGFN_BASE_REGISTRY_USERNAME/PASSWORD, and
 * --registry-ca (a PEM bundle) is trusted for both registries. Two real docker-registry servers
 * with TLS from two throwaway CAs; the base one wants basic auth.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { pushSyntheticBase, startRegistry, type TestRegistry } from "../helpers/registry.js";

const BASE_AUTH = { username: "base-reader", password: "base-secret-pw" };
let base: TestRegistry;
let target: TestRegistry;
let work: string;
let baseRef: string;
let caBundle: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "imgfn-base-auth-"));
  base = await startRegistry({ tls: true, auth: BASE_AUTH });
  target = await startRegistry({ tls: true });
  baseRef = (await pushSyntheticBase(base, "private/lambda-node", { auth: BASE_AUTH })).ref;
  caBundle = join(work, "ca-bundle.pem");
  writeFileSync(caBundle, base.ca! + target.ca!);
}, 120_000);

afterAll(async () => {
  await base?.stop();
  await target?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A HOME with this Docker config, and a PATH that may hold a credential helper. */
function home(dockerConfig?: unknown, helper?: string): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(work, "home-"));
  if (dockerConfig) {
    mkdirSync(join(dir, ".docker"));
    writeFileSync(join(dir, ".docker", "config.json"), JSON.stringify(dockerConfig));
  }
  let path = process.env.PATH ?? "";
  if (helper) {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "docker-credential-imgfntest"), helper);
    chmodSync(join(bin, "docker-credential-imgfntest"), 0o755);
    path = `${bin}:${path}`;
  }
  return { ...process.env, HOME: dir, PATH: path, DOCKER_CONFIG: "", XDG_CACHE_HOME: join(work, "cache") };
}

const build = (env: NodeJS.ProcessEnv, extra: string[] = ["--registry-ca", caBundle]) =>
  runCli(["build", "--builder", "oci", "--base-image", baseRef, "--push", `${target.host}/imgfn-app`, ...extra], { cwd: work, env });

describe("the base image's registry: credentials and CA", () => {
  it("without credentials the private base is refused with the registry's 401 and a next step", async () => {
    const r = await build(home());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rejected anonymous access \(HTTP 401\)/);
    expect(r.stderr).toMatch(/next step: /);
  });

  it("reads the auths entry of ~/.docker/config.json for the base's host", async () => {
    const auth = Buffer.from(`${BASE_AUTH.username}:${BASE_AUTH.password}`).toString("base64");
    const r = await build(home({ auths: { [base.host]: { auth } } }));
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`base\\s+${base.host.replace(/[.]/g, "\\.")}/private/lambda-node@sha256:`));
  });

  it("asks the credential helper named in credHelpers (the Docker credential-helper protocol)", async () => {
    const helper = `#!/bin/sh\nread host\n[ "$host" = "${base.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\necho '{"ServerURL":"'$host'","Username":"${BASE_AUTH.username}","Secret":"${BASE_AUTH.password}"}'\n`;
    const r = await build(home({ credHelpers: { [base.host]: "imgfntest" } }, helper));
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
  });

  it("takes IMGFN_BASE_REGISTRY_USERNAME / _PASSWORD before the Docker config", async () => {
    const env = { ...home({ auths: { [base.host]: { auth: Buffer.from("wrong:wrong").toString("base64") } } }), IMGFN_BASE_REGISTRY_USERNAME: BASE_AUTH.username, IMGFN_BASE_REGISTRY_PASSWORD: BASE_AUTH.password };
    const r = await build(env);
    expect(r.code).toBe(0);
  });

  it("--registry-ca is what the base pull trusts: a CA that signed only the push registry is refused for the base, naming the flag", async () => {
    const auth = Buffer.from(`${BASE_AUTH.username}:${BASE_AUTH.password}`).toString("base64");
    const targetOnly = join(work, "target-ca.pem");
    writeFileSync(targetOnly, target.ca!);
    const r = await build(home({ auths: { [base.host]: { auth } } }), ["--registry-ca", targetOnly]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TLS to 127\.0\.0\.1:\d+ failed/);
    expect(r.stderr).toContain("--registry-ca <pem-file>");
  });
});
