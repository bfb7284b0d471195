/**
 * Where the local stack keeps its files (<project>/.imgfn/local/) and the record a running
 * `imgfn dev` leaves there (dev.json) so commands in another terminal find its endpoints.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface DevState {
  pid: number;
  startedAt: string;
  s3Endpoint: string;
  invokeEndpoint: string;
  bucket: string;
  region: string;
  functionName: string;
  inputPrefix: string;
  outputPrefix: string;
  suffixes: string[];
  logsDir: string;
  /** The live page (results, log lines, uploads) served by dev. */
  dashboardUrl?: string;
  /** Live worker processes (updated as they come and go). */
  workerPids: number[];
}

/** The record of a stack this process runs (the fields a LocalStack and its Config give). */
export function devStateFor(
  stack: Pick<DevState, "s3Endpoint" | "invokeEndpoint" | "bucket" | "region" | "functionName" | "logsDir">,
  rules: Pick<DevState, "inputPrefix" | "outputPrefix" | "suffixes">,
): DevState {
  return {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    s3Endpoint: stack.s3Endpoint,
    invokeEndpoint: stack.invokeEndpoint,
    bucket: stack.bucket,
    region: stack.region,
    functionName: stack.functionName,
    inputPrefix: rules.inputPrefix,
    outputPrefix: rules.outputPrefix,
    suffixes: rules.suffixes,
    logsDir: stack.logsDir,
    workerPids: [],
  };
}

export const localDir = (cwd: string) => join(cwd, ".imgfn", "local");
export const devStatePath = (cwd: string) => join(localDir(cwd), "dev.json");

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The running dev stack for this project, or undefined (a record left by a dead process is ignored). */
export function readDevState(cwd: string): DevState | undefined {
  const path = devStatePath(cwd);
  if (!existsSync(path)) return undefined;
  try {
    const state = JSON.parse(readFileSync(path, "utf8")) as DevState;
    return typeof state.pid === "number" && isAlive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

export function writeDevState(cwd: string, state: DevState): void {
  const path = devStatePath(cwd);
  writeFileSync(path + ".tmp", JSON.stringify(state, null, 2) + "\n");
  // rename is atomic: a reader never sees half a file
  renameSync(path + ".tmp", path);
}

export function removeDevState(cwd: string, pid = process.pid): void {
  const path = devStatePath(cwd);
  try {
    const state = JSON.parse(readFileSync(path, "utf8")) as DevState;
    if (state.pid !== pid) return; // not ours
  } catch {
    // unreadable: ours to clean up
  }
  rmSync(path, { force: true });
}
