/**
 * The emulator suite's world: one moto_server (AWS control planes) and one Debian docker-registry
 * (the image, pushed with --registry, since moto's ECR has no registry), a synthetic Lambda base
 * image on that registry, and a project folder per app. The CLI runs in-process (src/cli.ts main)
 * with --endpoint-url; state is read back with the SDK against the same emulator.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AwsClients } from "../../src/aws/clients.js";
import { execFile } from "node:child_process";
import type { CliRun } from "../helpers/cli.js";
import { type Moto, startMoto } from "../helpers/moto.js";
import { pushSyntheticBase, startRegistry, type TestRegistry } from "../helpers/registry.js";

export const REGION = "us-east-1";

export interface World {
  moto: Moto;
  registry: TestRegistry;
  baseImage: string;
  work: string;
  env: NodeJS.ProcessEnv;
  /** SDK clients on the emulator, to read state back. */
  aws: AwsClients;
  /** A project folder with imgfn.config.json for `config` (baseImage from the test registry). */
  project(config: Record<string, unknown>): string;
  /** The CLI against the emulator: --endpoint-url, --registry for deploy. */
  cli(cwd: string, args: string[]): Promise<CliRun>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const moto = await startMoto();
  const registry = await startRegistry();
  const { ref: baseImage } = await pushSyntheticBase(registry, "lambda/nodejs");
  const work = mkdtempSync(join(tmpdir(), "imgfn-emulator-"));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work,
    IMGFN_MODEL_MIRROR: process.env.IMGFN_MODEL_MIRROR ?? "",
    XDG_CACHE_HOME: process.env.IMGFN_TEST_CACHE ?? join(tmpdir(), "imgfn-emulator-cache"),
    AWS_ACCESS_KEY_ID: moto.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: moto.env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: join(work, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(work, "no-aws-credentials"),
  };
  let n = 0;
  return {
    moto,
    registry,
    baseImage,
    work,
    env,
    aws: new AwsClients({ region: REGION, endpointUrl: moto.endpoint }),
    project(config) {
      const dir = join(work, `project-${++n}`);
      mkdtempSync(dir + "-");
      const folder = mkdtempSync(dir + "-");
      writeFileSync(join(folder, "imgfn.config.json"), JSON.stringify({ baseImage, ...config }));
      return folder;
    },
    cli(cwd, args) {
      const extra = args[0] === "deploy" ? ["--registry", registry.host, "--builder", "oci"] : [];
      return runBin(["--endpoint-url", moto.endpoint, ...args, ...extra], cwd, env);
    },
    async close() {
      await moto.close();
      await registry.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

const BIN = join(dirname(fileURLToPath(import.meta.url)), "../../bin/imgfn.js");

/** The built CLI (bin/imgfn.js → dist/) in its own process, as a user runs it. */
export function runBin(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
