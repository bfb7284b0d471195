/**
 * The reference pipeline's Python environment (reference/classify.py needs Pillow, NumPy and
 * onnxruntime): a venv made once under the repo's ignored .imgfn/ folder, from pip's configured
 * index (on these machines a local wheel index, so `--retries 0 --timeout 2` keeps it offline and
 * fast). Where Python or the wheels are missing, tests skip with the reason, except under CI,
 * where .ci/run has made the venv and its absence is a failure.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const REPO = join(import.meta.dirname, "..", "..");
export const VENV = join(REPO, ".imgfn", "pyref");
export const REFERENCE_CLI = join(REPO, "reference", "classify.py");
export const venvPython = (venv = VENV) => join(venv, "bin", "python");

export type PythonEnv = { python: string } | { skip: string };

const REFERENCE_PACKAGES = ["onnxruntime", "pillow", "numpy"];
const pending = new Map<string, Promise<PythonEnv>>();

/** The venv's python, made if missing; or why it cannot be had here. */
export function referencePython(): Promise<PythonEnv> {
  return pythonEnv(VENV, REFERENCE_PACKAGES);
}

/** The seed-style Python Lambda function's environment (the benchmark): the reference's + boto3. */
export const BENCH_VENV = join(REPO, ".imgfn", "pybench");
export function benchPython(): Promise<PythonEnv> {
  return pythonEnv(BENCH_VENV, [...REFERENCE_PACKAGES, "boto3"]);
}

function pythonEnv(venv: string, packages: string[]): Promise<PythonEnv> {
  if (!pending.has(venv)) pending.set(venv, make(venv, packages));
  return pending.get(venv)!;
}

function make(venv: string, packages: string[]): Promise<PythonEnv> {
  return ensure(venv, packages).then(
    (python) => ({ python }),
    (err: Error) => {
      if (process.env.CI) throw new Error(`the reference pipeline's Python environment is required in CI: ${err.message}`);
      return { skip: err.message };
    },
  );
}

const IMPORT_NAMES: Record<string, string> = { pillow: "PIL" };
async function works(python: string, packages: string[]): Promise<boolean> {
  const imports = packages.map((p) => IMPORT_NAMES[p] ?? p).join(", ");
  return run(python, ["-c", `import ${imports}`]).then(() => true, () => false);
}

async function ensure(venv: string, packages: string[]): Promise<string> {
  if (existsSync(venvPython(venv)) && (await works(venvPython(venv), packages))) return venvPython(venv);
  await run("python3", ["--version"]).catch(() => {
    throw new Error("python3 is not installed");
  });
  // built beside, then renamed into place, so two test files starting together cannot see half a venv
  await mkdir(join(REPO, ".imgfn"), { recursive: true });
  const building = `${venv}.building-${process.pid}-${Date.now()}`;
  try {
    await run("python3", ["-m", "venv", building]);
    await run(venvPython(building), ["-m", "pip", "install", "--quiet", "--retries", "0", "--timeout", "2", ...packages], { timeout: 300_000 }).catch((err) => {
      throw new Error(`pip could not install ${packages.join(", ")} (no wheel index reachable?): ${String(err.stderr ?? err.message).trim().split("\n").pop()}`);
    });
    if (!(existsSync(venvPython(venv)) && (await works(venvPython(venv), packages)))) {
      await rm(venv, { recursive: true, force: true });
      await rename(building, venv);
    }
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return venvPython(venv);
}

/** Runs reference/classify.py with the venv's python. */
export async function runReference(python: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const { stdout, stderr } = await run(python, [REFERENCE_CLI, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
  return { stdout, stderr };
}
