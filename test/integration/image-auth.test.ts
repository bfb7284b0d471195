/**
 * Registry auth and TLS with real registries: basic auth with an ECR-style AWS:<long token>
 * login, a wrong password, and TLS with a self-signed CA (base image copied across registries).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryAuthFromEcrToken } from "../../src/image/index.js";
import { OciBuilder } from "../../src/image/oci.js";
import { RegistryClient } from "../../src/image/registry.js";
import { stageFunction, type StagedFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { pushSyntheticBase, startRegistry, type TestRegistry } from "../helpers/registry.js";

// ECR passwords are long (well over 1 KB); bcrypt on the registry reads 72 bytes of it.
const token = randomBytes(1200).toString("base64");
const ecrAuthorizationToken = Buffer.from(`AWS:${token}`).toString("base64");

let authed: TestRegistry;
let tls: TestRegistry;
let work: string;
let env: NodeJS.ProcessEnv;
let staged: StagedFunction;
let baseRef: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "imgfn-auth-"));
  env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };
  [authed, tls] = await Promise.all([startRegistry({ auth: { username: "AWS", password: token } }), startRegistry({ tls: true })]);
  baseRef = (await pushSyntheticBase(authed, "lambda/nodejs", { auth: { username: "AWS", password: token } })).ref;
  staged = await stageFunction(await loadModel(), join(work, "task"));
}, 180_000);

afterAll(async () => {
  await Promise.all([authed?.stop(), tls?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("registry auth", () => {
  it("decodes an ECR authorization token into AWS:<password>", () => {
    expect(registryAuthFromEcrToken(ecrAuthorizationToken)).toEqual({ username: "AWS", password: token });
  });

  it("pushes to a basic-auth registry with an ECR-style login", async () => {
    const auth = registryAuthFromEcrToken(ecrAuthorizationToken);
    const r = await new OciBuilder({ env }).build({ staged, architecture: "x86_64", baseImage: baseRef, repository: `${authed.host}/imgfn-app`, tag: "v1", auth });
    const client = new RegistryClient(authed.host, { auth });
    try {
      expect((await client.getManifest("imgfn-app", "v1")).digest).toBe(r.digest);
    } finally {
      await client.close();
    }
  });

  it("says clearly when the password is wrong", async () => {
    const build = new OciBuilder({ env }).build({ staged, architecture: "x86_64", baseImage: baseRef, repository: `${authed.host}/imgfn-app`, auth: { username: "AWS", password: token.slice(0, 60) + "wrong" } });
    await expect(build).rejects.toMatchObject({
      name: "RegistryError",
      message: expect.stringMatching(/rejected the credentials for user "AWS" \(HTTP 401\)/),
      hint: expect.stringMatching(/password or token/),
    });
  });

  it("says the registry needs credentials when none are given", async () => {
    const build = new OciBuilder({ env }).build({ staged, architecture: "x86_64", baseImage: baseRef, repository: `${authed.host}/imgfn-app` });
    await expect(build).rejects.toThrow(/rejected anonymous access/);
  });
});

describe("registry TLS", () => {
  it("pushes to a TLS registry trusted through a custom CA, copying the base layers across registries", async () => {
    const r = await new OciBuilder({ env }).build({
      staged,
      architecture: "x86_64",
      baseImage: baseRef,
      baseAuth: { username: "AWS", password: token },
      repository: `${tls.host}/imgfn-app`,
      tag: "v1",
      ca: tls.ca,
    });
    expect(r.layers[0].uploaded).toBe(true); // base layer copied from the other registry
    const client = new RegistryClient(tls.host, { ca: tls.ca });
    try {
      expect((await client.getManifest("imgfn-app", "v1")).digest).toBe(r.digest);
    } finally {
      await client.close();
    }
  });

  it("explains a certificate it cannot verify and names the flag to fix it", async () => {
    const client = new RegistryClient(tls.host, { plainHttp: false, retries: 1 });
    try {
      await expect(client.hasBlob("imgfn-app", "sha256:" + "0".repeat(64))).rejects.toMatchObject({
        message: expect.stringMatching(/TLS to 127\.0\.0\.1:\d+ failed/),
        hint: expect.stringMatching(/--registry-ca/),
      });
    } finally {
      await client.close();
    }
  });
});
