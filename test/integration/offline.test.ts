/**
 * No network: AWS and registries cannot be reached. Every command says so with a next step
 * instead of a raw "getaddrinfo ENOTFOUND"; a dry run still plans. Hosts under .invalid never
 * resolve (RFC 2606), so this is the same on a machine with a network.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBuiltCli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "imgfn-offline-"));
writeFileSync(join(dir, "imgfn.config.json"), JSON.stringify({ app: "offline", region: "us-east-1" }));
const env: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: dir,
  IMGFN_MODEL_MIRROR: process.env.IMGFN_MODEL_MIRROR ?? "",
  XDG_CACHE_HOME: process.env.XDG_CACHE_HOME ?? join(dir, "cache"),
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "offline",
  AWS_CONFIG_FILE: join(dir, "none"),
  AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"),
  // where every SDK call goes, as DNS fails offline for sts.<region>.amazonaws.com
  AWS_ENDPOINT_URL: "https://aws.invalid",
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("offline", () => {
  it("deploy --dry-run still plans, saying AWS cannot be reached and why", async () => {
    const r = await runBuiltCli(["deploy", "--dry-run"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Plan for imgfn-offline in us-east-1 \(no AWS access: cannot reach AWS at aws\.invalid \(ENOTFOUND\): no network, or a DNS or proxy problem; planned as a fresh account\)\. Nothing was changed\./);
    expect(r.stdout).not.toContain("getaddrinfo");
  });

  it("status fails with exit 1, the reason and a next step", async () => {
    const r = await runBuiltCli(["status"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: cannot reach AWS at aws.invalid (ENOTFOUND): no network, or a DNS or proxy problem");
    expect(r.stderr).toMatch(/next step: check the connection \(and HTTPS_PROXY behind a proxy\)/);
  });

  it("a base image on a registry that cannot be reached names --registry and the baseImage setting", async () => {
    const r = await runBuiltCli(["build", "--builder", "oci", "--base-image", "registry.invalid/lambda/nodejs:22"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: cannot reach registry registry\.invalid .*ENOTFOUND/);
    expect(r.stderr).toMatch(/next step: .*--registry <host\[:port\]>.*"baseImage" in imgfn\.config\.json, or --base-image/);
  });
});
