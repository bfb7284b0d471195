/**
 * The emulator suite's world: one moto_server (AWS control planes) and one Debian docker-registry
 * (the image goes there with --registry, since moto's ECR has no registry), a synthetic Lambda
 * base image on that registry, and a project folder per app. The CLI runs as a user runs it
 * (bin/imgfn.js in its own process) with --endpoint-url; state is read back with the SDK.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AwsClients } from "../../src/aws/clients.js";
import { type CliRun, runBuiltCli } from "../helpers/cli.js";
import { type Moto, startMoto } from "../helpers/moto.js";
import { pushSyntheticBase, startRegistry, type TestRegistry } from "../helpers/registry.js";

export const REGION = "us-east-1";
/** Each test drives several CLI processes; on a busy 2-core machine one can take a minute. */
export const EMULATOR_TEST_TIMEOUT = 300_000;
/** moto's default account. */
export const ACCOUNT = "123456789012";

export interface World {
  moto: Moto;
  registry: TestRegistry;
  baseImage: string;
  /** The synthetic base's multi-platform index digest (an image Lambda refuses). */
  baseIndexDigest: string;
  /** Its single-platform manifests by architecture (amd64, arm64): images Lambda takes. */
  basePlatforms: Record<string, string>;
  env: NodeJS.ProcessEnv;
  /** SDK clients on the emulator, to read state back. */
  aws: AwsClients;
  /** A project folder with imgfn.config.json for `config` (baseImage from the test registry). */
  project(config: Record<string, unknown>): string;
  /** The CLI against the emulator; deploy also gets --registry (and the daemonless builder). */
  cli(cwd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CliRun>;
  /** Repositories in the test registry. */
  catalog(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const moto = await startMoto();
  const registry = await startRegistry();
  const base = await pushSyntheticBase(registry, "lambda/nodejs");
  const work = mkdtempSync(join(tmpdir(), "imgfn-emulator-"));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work,
    IMGFN_MODEL_MIRROR: process.env.IMGFN_MODEL_MIRROR ?? "",
    // the image layers are cached between runs like a user's ~/.cache
    XDG_CACHE_HOME: process.env.XDG_CACHE_HOME ?? join(tmpdir(), "imgfn-emulator-cache"),
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: join(work, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(work, "no-aws-credentials"),
  };
  // the suite's own SDK clients (this test worker) use the same fake credentials
  process.env.AWS_ACCESS_KEY_ID = "testing";
  process.env.AWS_SECRET_ACCESS_KEY = "testing";
  let n = 0;
  return {
    moto,
    registry,
    baseImage: base.ref,
    baseIndexDigest: base.indexDigest,
    basePlatforms: base.platforms,
    env,
    aws: new AwsClients({ region: REGION, endpointUrl: moto.endpoint }),
    project(config) {
      const folder = mkdtempSync(join(work, `project-${++n}-`));
      writeFileSync(join(folder, "imgfn.config.json"), JSON.stringify({ baseImage: base.ref, ...config }));
      return folder;
    },
    cli(cwd, args, extraEnv = {}) {
      const extra = args[0] === "deploy" ? ["--registry", registry.host, "--builder", "oci"] : [];
      return runBuiltCli(["--endpoint-url", moto.endpoint, ...args, ...extra], { cwd, env: { ...env, ...extraEnv } });
    },
    async catalog() {
      const res = await fetch(`${registry.url}/v2/_catalog`);
      return ((await res.json()) as { repositories?: string[] }).repositories ?? [];
    },
    async close() {
      await moto.close();
      await registry.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** `--json` output of a run, with the run's stderr in the failure message when it is not JSON. */
export function json(r: CliRun): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}
