/**
 * imgfn event s3: prints an S3 ObjectCreated:Put event exactly as S3 delivers it (key
 * form-encoded, spaces as "+"), like `sam local generate-event`. For `curl … -d @-` against the
 * invoke URL and for `imgfn invoke --event`.
 */
import { statSync } from "node:fs";
import { loadConfig } from "../config.js";
import { s3Event } from "../local/events.js";
import { localBucketName } from "../local/stack.js";
import { readDevState } from "../local/state.js";
import { samplePath } from "../paths.js";
import { defineCommand } from "./command.js";
import { parseNonNegative } from "./predict.js";

const s3Command = defineCommand({
  name: "s3",
  description: "Print an S3 ObjectCreated:Put event (S3's key encoding) on stdout",
  examples: [
    "event s3 --key uploads/cat.jpg",
    "event s3 --key 'uploads/my photo.jpg' --bucket my-bucket --size 48213",
    "event s3 --key uploads/cat.jpg | curl -s -XPOST http://127.0.0.1:9000/2015-03-31/functions/function/invocations -d @-",
    "event s3 > event.json && imgfn invoke --local --event event.json",
  ],
  globals: ["region", "config"],
  options: (cmd) =>
    cmd
      .option("--key <key>", "the object key, as stored (not encoded) (default: <inputPrefix>cat.jpg)")
      .option("--bucket <name>", "bucket name (default: the running imgfn dev's, else the config's, else imgfn-<app>-local)")
      .option("--size <bytes>", "object size in bytes (default: the sample cat's size for the default key, else 0)", (v) => parseNonNegative(v, "--size"))
      .option("--etag <etag>", "object ETag (hex MD5, no quotes)"),
  async run(ctx, opts) {
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const dev = readDevState(ctx.cwd);
    const key: string = opts.key ?? `${dev?.inputPrefix ?? config.inputPrefix}cat.jpg`;
    const bucket: string = opts.bucket ?? dev?.bucket ?? localBucketName(config);
    const size: number = opts.size ?? (opts.key === undefined ? statSync(samplePath("cat.jpg")).size : 0);
    const region = ctx.globals.region ?? config.region ?? dev?.region ?? "us-east-1";
    const event = s3Event({ bucket, key, size, eTag: opts.etag, kind: "Put" }, { region });
    // the event is the output, with or without --json: one JSON document on stdout
    ctx.out.stdout.write(JSON.stringify(event, null, 2) + "\n");
  },
});

export const eventCommand = defineCommand({
  subcommands: [s3Command],
  examples: ["event s3 --key uploads/cat.jpg", "event s3 --key 'uploads/a b.jpg' --size 1024"],
});
