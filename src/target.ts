/**
 * Where `upload`, `logs` and `invoke` act: the embedded local stack (`--local`, started by
 * `imgfn dev`) or the deployed AWS pipeline. Both give the same shape, so the commands hold no
 * target-specific code.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Context } from "./commands/command.js";
import type { Config } from "./config.js";
import { UserError } from "./errors.js";
import type { FailedEventSource } from "./pipeline/failures.js";

/** One log event in CloudWatch Logs' shape (the local stack writes the same shape). */
export interface LogEvent {
  timestamp: number;
  message: string;
  logStreamName?: string;
  eventId?: string;
}

export interface LogQuery {
  /** Epoch ms; only events at or after it. */
  since?: number;
  /** Plain text that must appear in the message. */
  filter?: string;
  follow?: boolean;
  signal?: AbortSignal;
}

export interface LogSource {
  /** Yields events in time order; with `follow`, keeps yielding until the signal aborts. */
  events(query: LogQuery): AsyncIterable<LogEvent>;
}

export interface Target {
  kind: "local" | "aws";
  /** Human description, e.g. "local stack at http://127.0.0.1:4567" or "AWS eu-west-1". */
  description: string;
  config: Config;
  bucket: string;
  region: string;
  s3: S3Client;
  logs: LogSource;
  /** Events the function failed on after every retry (the SQS failure queue, or the local store). */
  failures: FailedEventSource;
  /** Invokes the function asynchronously, the way S3 does; resolves once the invocation is accepted. */
  invokeAsync(event: unknown): Promise<void>;
}

export interface TargetOptions {
  local?: boolean;
}

export async function resolveTarget(ctx: Context, config: Config, opts: TargetOptions): Promise<Target> {
  if (opts.local) {
    const { localTarget } = await import("./local/target.js");
    return localTarget(ctx, config);
  }
  const { awsTarget } = await import("./aws/target.js");
  return awsTarget(ctx, config);
}

/** NoSuchBucket says what to do (deploy first, or restart dev); anything else is rethrown as it is. */
export function explainBucketError(err: unknown, target: Pick<Target, "bucket" | "kind">): never {
  if ((err as Error)?.name !== "NoSuchBucket") throw err;
  throw new UserError(`bucket ${target.bucket} does not exist${target.kind === "local" ? " in the local stack" : ""}`, {
    cause: err,
    hint: target.kind === "aws" ? `run "imgfn deploy" first, or set "bucket" in imgfn.config.json to an existing bucket` : `restart "imgfn dev"`,
  });
}
