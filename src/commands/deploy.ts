import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { createClients } from "../aws/clients.js";
import { type DeployReport, deploy, renderPlan } from "../aws/deploy.js";
import { withAwsErrors } from "../aws/errors.js";
import { awsRuntime } from "../aws/runtime.js";
import { type ConfigInput, loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import type { BuilderChoice } from "../image/index.js";
import { formatMs, type StepHandle } from "../ui/output.js";
import { defineCommand, type Context } from "./command.js";
import { goldenOptions } from "./golden-options.js";
import { loadModelFromOptions, modelOptions } from "./model-options.js";
import { baseImageAccess } from "../image/credentials.js";

/** Config flags shared by init and deploy (flags override imgfn.config.json). */
export function configFlags(cmd: Command): void {
  cmd
    .option("--app <name>", "app name used in every resource name (imgfn-<app>)")
    .option("--bucket <name>", "S3 bucket (default: imgfn-<app>-<account>-<region>)")
    .option("--input-prefix <prefix>", "uploads under this prefix trigger the function (default uploads/)")
    .option("--output-prefix <prefix>", "results are written under this prefix (default results/)")
    .option("--suffixes <list>", "comma-separated key suffixes that trigger, e.g. .jpg,.png")
    .option("--memory <mb>", "function memory in MB (128-10240)", intFlag("--memory"))
    .option("--timeout <s>", "function timeout in seconds (1-900)", intFlag("--timeout"))
    .option("--architecture <arch>", "x86_64 or arm64")
    .option("--reserved-concurrency <n>", "reserve (and cap) concurrent executions", intFlag("--reserved-concurrency"));
}

function intFlag(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new ConfigError(`${flag} must be an integer (got "${v}")`);
    return n;
  };
}

export function configOverrides(opts: Record<string, any>, globals?: { region?: string }): ConfigInput {
  return {
    app: opts.app,
    region: globals?.region,
    bucket: opts.bucket,
    inputPrefix: opts.inputPrefix,
    outputPrefix: opts.outputPrefix,
    suffixes: typeof opts.suffixes === "string" ? opts.suffixes.split(",").map((s: string) => s.trim()).filter(Boolean) : undefined,
    memory: opts.memory,
    timeout: opts.timeout,
    architecture: opts.architecture,
    reservedConcurrency: opts.reservedConcurrency,
    model: opts.model,
    labels: opts.labels,
  };
}

export const deployCommand = defineCommand({
  examples: ["deploy --dry-run", "deploy", "deploy --memory 2048 --architecture arm64 --region eu-west-1", "deploy --endpoint-url http://127.0.0.1:4566 --no-verify"],
  options: (cmd) => {
    cmd
      .option("--dry-run", "print what each step would create, change or leave alone; change nothing")
      .option("--no-verify", "skip the sample upload at the end")
      .option("--image <uri>", "deploy this image (repository@sha256:… or an ECR tag) instead of building")
      .option("--registry <host>", "push to this registry host instead of the one ECR names (emulators, proxies)")
      .option("--registry-ca <pem-file>", "trust this CA certificate for the registries' TLS (the push and the base image)")
      .option("--base-image <ref>", "base image (default: public.ecr.aws/lambda/nodejs:22, or the config's baseImage)")
      .option("--builder <kind>", "auto | docker | oci (daemonless)", "auto")
      .option("--http", 'also serve classification over HTTP: a Function URL with AWS_IAM auth (config "http" sets auth NONE and CORS)');
    goldenOptions(cmd, "after the sample, upload its images and check the deployed function answers as recorded");
    configFlags(cmd);
    modelOptions(cmd);
  },
  async run(ctx, opts) {
    if (!["auto", "docker", "oci"].includes(opts.builder)) throw new ConfigError(`--builder must be auto, docker or oci (got "${opts.builder}")`);
    const config = loadConfig(ctx.cwd, { ...configOverrides(opts, ctx.globals), baseImage: opts.baseImage }, ctx.globals.config);
    // --http turns the URL on; an "http" object in the config keeps its auth and CORS
    if (opts.http && !config.http) config.http = { auth: "AWS_IAM" };
    const imageAccess = await baseImageAccess(config.baseImage, opts.registryCa ? await readFile(resolve(ctx.cwd, opts.registryCa)) : undefined, ctx.env);
    const report = await withAwsErrors(async () => {
      const clients = await createClients(ctx.globals, config, { registry: opts.registry, env: ctx.env });
      return deploy(
        ctx,
        config,
        { dryRun: opts.dryRun, verify: opts.verify, image: opts.image, registry: opts.registry, builder: opts.builder as BuilderChoice, imageAccess, golden: opts.golden ?? config.golden, tolerance: opts.tolerance },
        {
          clients,
          selectBuilder: (choice) => awsRuntime.selectBuilder(choice, ctx.env, ctx.signal),
          loadModel: (update) => loadModelFromOptions(ctx, opts, { update } as unknown as StepHandle, { model: config.model, labels: config.labels }),
          sleep: awsRuntime.sleep,
          stage: awsRuntime.stage,
          preflightImage: awsRuntime.preflightImage,
          sample: awsRuntime.sample(),
          verifyTimeout: awsRuntime.verifyTimeout,
        },
      );
    }, ctx.globals);
    ctx.out.result(report);
    printReport(ctx, report);
  },
});

function printReport(ctx: Context, report: DeployReport): void {
  if (report.dryRun) {
    ctx.out.print(renderPlan(report));
    return;
  }
  const { c } = ctx.out;
  ctx.out.print(report.changed ? `Deployed ${c.bold(report.functionName)} to ${report.region} (account ${report.account}).` : `No changes: ${c.bold(report.functionName)} in ${report.region} already matches the config.`);
  const rows = [
    ["bucket", `s3://${report.bucket}`],
    ["image", report.imageUri ?? ""],
    ["upload", ctx.out.cmd("upload <image files>")],
    ...(report.functionUrl ? [["function URL", `${report.functionUrl}  (${ctx.out.cmd("classify <image files>")})`]] : []),
    ["logs", ctx.out.cmd("logs --follow")],
  ];
  const v = report.verify;
  if (v) {
    const r = v.report;
    const figures = r ? `; ${r.initDuration !== undefined ? `init ${formatMs(r.initDuration)}, ` : ""}duration ${formatMs(r.duration)}, max memory ${r.maxMemoryUsed}/${r.memorySize} MB` : "";
    rows.splice(2, 0, ["verified", `cat → ${v.top1} (${(v.score * 100).toFixed(1)}%), ${formatMs(v.latencyMs)} end to end${figures}`]);
  }
  const g = report.golden;
  if (g) rows.splice(3, 0, ["golden", `${g.files} images answer as recorded: top-1 agreement ${(g.top1Agreement * 100).toFixed(1)}%, max |Δp| ${g.maxDeltaP.toFixed(4)}`]);
  const h = report.verifyHttp;
  if (h) rows.splice(3, 0, ["verified HTTP", `cat → ${h.top1} (${(h.score * 100).toFixed(1)}%), ${formatMs(h.latencyMs)} round trip`]);
  ctx.out.print(ctx.out.table(rows, { indent: 2, shrink: [1] }));
  if (report.verifySkipped) ctx.out.warn(`verify skipped: ${report.verifySkipped}`);
}
