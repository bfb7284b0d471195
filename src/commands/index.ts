/**
 * Every command imgfn has, in the order `imgfn --help` lists them. Only the usage line and
 * summary live here; a command's module (and the SDKs and native modules it imports) is loaded
 * only when that command runs, so `imgfn --help` and light commands start fast.
 */
import type { LazyCommand } from "./command.js";

export const commands: LazyCommand[] = [
  { usage: "init", summary: "Write imgfn.config.json (flags set the values; everything else keeps its default)", load: async () => (await import("./init.js")).initCommand },
  { usage: "demo [files...]", summary: "One-shot local run: start S3 + the function, upload sample images (or yours), show results and timings, stop", load: async () => (await import("./demo.js")).demoCommand },
  { usage: "dev", summary: "Run the whole pipeline locally (S3 + trigger + function) and stream its logs", load: async () => (await import("./dev.js")).devCommand },
  { usage: "build", summary: "Build the function image (daemonless or with Docker), push it and/or write an OCI layout", load: async () => (await import("./build.js")).buildCommand },
  { usage: "deploy", summary: "Build the image, create or update every AWS resource, and verify with a sample upload", load: async () => (await import("./deploy.js")).deployCommand },
  { usage: "upload <paths...>", summary: "Upload images (files or folders) under the input prefix and wait for each result", load: async () => (await import("./upload.js")).uploadCommand },
  { usage: "results [key]", summary: "List the function's results, newest first (or show one in full with its top-k bars)", load: async () => (await import("./results.js")).resultsCommand },
  { usage: "report", summary: "Write a self-contained HTML report: thumbnails, top-k bars, errors, timings, memory and cost", load: async () => (await import("./report.js")).reportCommand },
  { usage: "logs", summary: "Show the function's logs: classifications, errors and REPORT lines", load: async () => (await import("./logs.js")).logsCommand },
  { usage: "invoke", summary: "Invoke the function once, synchronously, with an S3 event: the deployed one, or imgfn dev's with --local", load: async () => (await import("./invoke.js")).invokeCommand },
  { usage: "event", summary: "Print a test event (imgfn event s3 --key K) for invoke --event or curl -d @-", load: async () => (await import("./event.js")).eventCommand },
  { usage: "failed", summary: "List the events the function failed on after every retry (the SQS failure queue, or --local)", load: async () => (await import("./failed.js")).failedCommand },
  { usage: "retry", summary: "Re-invoke failed events (--all or --key K) the way S3 does, and wait for their results", load: async () => (await import("./retry.js")).retryCommand },
  { usage: "backfill", summary: "Process the objects under the input prefix that have no current result (--dry-run counts them)", load: async () => (await import("./backfill.js")).backfillCommand },
  { usage: "status", summary: "Show the deployed function, trigger, role, repository, recent invocations and drift from the config", load: async () => (await import("./status.js")).statusCommand },
  { usage: "teardown", aliases: ["delete", "remove", "destroy"], summary: "Remove everything imgfn created for this app (the bucket only with --delete-bucket)", load: async () => (await import("./teardown.js")).teardownCommand },
  { usage: "predict [files...]", summary: "Classify local image files with the same code the function runs (--golden: check a golden set)", load: async () => (await import("./predict.js")).predictCommand },
  { usage: "golden", summary: "Make golden files (what a set of images must answer) from the function or the Python reference", load: async () => (await import("./golden.js")).goldenCommand },
  { usage: "model", summary: "Inspect and fetch the classification model", load: async () => (await import("./model.js")).modelCommand },
];
