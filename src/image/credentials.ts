/**
 * Credentials for pulling the base image, found the way container tools find them: imgfn's own
 * variables first, then the Docker client's config ($DOCKER_CONFIG/config.json or
 * ~/.docker/config.json): a credential helper for the host (credHelpers, credsStore), or the
 * `auths` entry. Nothing found means anonymous, as for public.ecr.aws.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { UserError } from "../errors.js";
import type { BuildRequest, RegistryAuth } from "./builder.js";
import { parseReference } from "./reference.js";

/** The keys Docker writes for a host (Docker Hub's is its v1 index URL). */
function authKeys(host: string): string[] {
  const hub = host === "docker.io" || host === "registry-1.docker.io" || host === "index.docker.io";
  return hub ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"] : [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`];
}

/** `optional`: the config's default store (credsStore) may name a helper this machine lacks; anonymous then, as for a public base. */
function runHelper(helper: string, host: string, env: NodeJS.ProcessEnv, optional = false): Promise<RegistryAuth | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ["get"], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        if (optional && (err as NodeJS.ErrnoException).code === "ENOENT") return resolve(undefined);
        // helpers answer "credentials not found in native keychain" for a host they do not know
        if (/not found/i.test(`${stdout}${stderr}`)) return resolve(undefined);
        return reject(
          new UserError(`the Docker credential helper docker-credential-${helper} failed for ${host}: ${(stderr || (err as Error).message).trim()}`, {
            hint: `check it with: echo ${host} | docker-credential-${helper} get (or set IMGFN_BASE_REGISTRY_USERNAME and IMGFN_BASE_REGISTRY_PASSWORD)`,
            cause: err,
          }),
        );
      }
      try {
        const { Username, Secret } = JSON.parse(stdout);
        resolve(Username && Secret ? { username: Username, password: Secret } : undefined);
      } catch {
        reject(new UserError(`docker-credential-${helper} answered something other than JSON for ${host}`, { hint: `check it with: echo ${host} | docker-credential-${helper} get` }));
      }
    });
    child.stdin?.end(host);
  });
}

/** Credentials for `host` from the environment or the Docker config, or undefined (anonymous). */
export async function registryCredentials(host: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistryAuth | undefined> {
  const { IMGFN_BASE_REGISTRY_USERNAME: username, IMGFN_BASE_REGISTRY_PASSWORD: password } = env;
  if (username && password) return { username, password };
  const file = join(env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker"), "config.json");
  let config: any;
  try {
    config = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserError(`cannot read the Docker config ${file}: ${(err as Error).message}`, { hint: "fix or remove that file (imgfn reads registry credentials from it)", cause: err });
  }
  const keys = authKeys(host);
  const helper = keys.map((k) => config?.credHelpers?.[k]).find(Boolean);
  if (helper) return runHelper(helper, host, env);
  const entry = keys.map((k) => config?.auths?.[k]).find(Boolean);
  if (entry?.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry?.username && entry?.password) return { username: entry.username, password: entry.password };
  if (config?.credsStore) return runHelper(config.credsStore, host, env, true);
  return undefined;
}

/** What the builder needs to reach the base image: its registry's credentials, and the CA (--registry-ca) for both registries. */
export async function baseImageAccess(baseImage: string, ca: Buffer | undefined, env: NodeJS.ProcessEnv): Promise<Pick<BuildRequest, "ca" | "baseCa" | "baseAuth">> {
  let host: string;
  try {
    host = parseReference(baseImage).registry;
  } catch (err) {
    throw new UserError(`baseImage ${baseImage} is not an image reference: ${(err as Error).message}`, { hint: 'set "baseImage" in imgfn.config.json (or --base-image) to e.g. public.ecr.aws/lambda/nodejs:22' });
  }
  return { ...(ca ? { ca, baseCa: ca } : {}), baseAuth: await registryCredentials(host, env) };
}
