import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ConfigError, UserError } from "../errors.js";
import { s3Event } from "../local/events.js";
import { INVOKE_PATH } from "../local/rie.js";
import { localS3Client } from "../local/s3.js";
import { requireDevState } from "../local/target.js";
import { defineCommand } from "./command.js";

export const invokeCommand = defineCommand({
  options: (cmd) => {
    cmd.option("--local", "invoke the function of the running `imgfn dev` stack", false);
    cmd.option("--event <file>", "the event JSON to send (e.g. an S3 event saved from CloudWatch)");
    cmd.option("--key <key>", "send an S3 ObjectCreated:Put event for this key in the local bucket (URL-encoded like S3 does)");
  },
  async run(ctx, opts) {
    if (!opts.local) throw new ConfigError("invoke runs against the local stack for now: add --local (and start `imgfn dev` in another terminal)");
    if (Boolean(opts.event) === Boolean(opts.key)) throw new ConfigError("give exactly one of --event <file.json> or --key <key>");
    const state = requireDevState(ctx.cwd);
    let event: unknown;
    if (opts.event) {
      const path = resolve(ctx.cwd, opts.event);
      const text = await readFile(path, "utf8").catch((err) => {
        throw new UserError(`cannot read event file ${opts.event}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      });
      try {
        event = JSON.parse(text);
      } catch (err) {
        throw new ConfigError(`${opts.event}: not valid JSON (${(err as Error).message})`);
      }
    } else {
      const key = String(opts.key);
      const s3 = localS3Client(state.s3Endpoint, state.region);
      let size = 0;
      let eTag: string | undefined;
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: state.bucket, Key: key }));
        size = head.ContentLength ?? 0;
        eTag = head.ETag?.replace(/"/g, "");
      } catch (err) {
        if ((err as any)?.$metadata?.httpStatusCode !== 404) throw err;
        ctx.out.warn(`s3://${state.bucket}/${key} does not exist; the function will find no object`);
      } finally {
        s3.destroy();
      }
      event = s3Event({ bucket: state.bucket, key, size, eTag, kind: "Put" }, { region: state.region });
    }
    const url = state.invokeEndpoint + INVOKE_PATH;
    const res = await fetch(url, { method: "POST", body: JSON.stringify(event), signal: ctx.signal }).catch((err) => {
      throw new UserError(`cannot reach the local invoke endpoint ${url}: ${(err as Error).cause ?? err}`, { hint: "is `imgfn dev` still running?" });
    });
    const text = await res.text();
    let body: any;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      body = text;
    }
    const requestId = res.headers.get("x-amzn-requestid");
    if (res.headers.get("x-amz-function-error")) {
      ctx.out.result({ requestId, error: body });
      throw new UserError(`the function failed (request ${requestId}): ${body?.errorType}: ${body?.errorMessage}`, { hint: "see `imgfn logs --local` for its output" });
    }
    if (!res.ok) throw new UserError(`the invoke endpoint answered ${res.status}: ${text}`);
    ctx.out.result({ requestId, result: body });
    ctx.out.print(JSON.stringify(body, null, 2));
    ctx.out.info(ctx.out.c.dim(`request ${requestId}; logs: imgfn logs --local --filter ${requestId}`));
  },
});
