/**
 * The local target: the stack a running `imgfn dev` recorded in .imgfn/local/dev.json. Its logs
 * are readable from the files even when dev is not running; S3 needs the running stack.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { join } from "node:path";
import type { Context } from "../commands/command.js";
import { resourceNames, type Config } from "../config.js";
import { UserError } from "../errors.js";
import type { Target } from "../target.js";
import { failedStoreDir, LocalFailedStore } from "./failed.js";
import { LocalLogSource, logGroupDir } from "./logs.js";
import { INVOKE_PATH } from "./rie.js";
import { localS3Client } from "./s3.js";
import { type DevState, localDir, readDevState } from "./state.js";

export function notRunning(cwd: string): UserError {
  return new UserError(`no local stack is running for ${cwd}`, {
    hint: `start one with "imgfn dev" in another terminal (same folder), or run "imgfn demo" for a one-shot check`,
  });
}

/** The running dev stack or a clear error. */
export function requireDevState(cwd: string): DevState {
  const state = readDevState(cwd);
  if (!state) throw notRunning(cwd);
  return state;
}

export async function localTarget(ctx: Context, config: Config): Promise<Target> {
  const state = readDevState(ctx.cwd);
  const functionName = state?.functionName ?? resourceNames(config).functionName;
  const logs = new LocalLogSource(state?.logsDir ?? logGroupDir(join(localDir(ctx.cwd), "logs"), functionName));
  // The running stack's trigger rules are the ones that count (its config may predate an edit).
  const effective: Config = state ? { ...config, inputPrefix: state.inputPrefix, outputPrefix: state.outputPrefix, suffixes: state.suffixes } : config;
  let client: S3Client | undefined;
  return {
    kind: "local",
    description: state ? `local stack at ${state.s3Endpoint} (imgfn dev, pid ${state.pid})` : `local stack (not running) in ${localDir(ctx.cwd)}`,
    config: effective,
    bucket: state?.bucket ?? "",
    region: state?.region ?? config.region ?? "us-east-1",
    get s3(): S3Client {
      if (!state) throw notRunning(ctx.cwd);
      return (client ??= localS3Client(state.s3Endpoint, state.region));
    },
    logs,
    failures: new LocalFailedStore(failedStoreDir(localDir(ctx.cwd))),
    async invokeAsync(event) {
      if (!state) throw notRunning(ctx.cwd);
      await invokeEvent(state.invokeEndpoint, event, ctx.signal);
    },
  };
}

/** An asynchronous (Event) invocation through the stack's invoke URL: queued and retried as S3's events are. */
export async function invokeEvent(invokeEndpoint: string, event: unknown, signal?: AbortSignal): Promise<void> {
  const url = invokeEndpoint + INVOKE_PATH;
  const res = await fetch(url, { method: "POST", headers: { "x-amz-invocation-type": "Event" }, body: JSON.stringify(event), signal }).catch((err) => {
    throw new UserError(`cannot reach the local invoke endpoint ${url}: ${(err as Error).cause ?? err}`, { hint: "is `imgfn dev` still running?" });
  });
  const text = await res.text();
  if (res.status !== 202) throw new UserError(`the local invoke endpoint did not accept the event (HTTP ${res.status}: ${text})`);
}
