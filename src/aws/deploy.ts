/**
 * `imgfn deploy`: ordered, idempotent steps from a model to a verified S3-triggered function.
 * Each step is an ensure* function that reports what it did; --dry-run runs the same functions
 * with read-only calls (or, without credentials, plans everything as new) and changes nothing.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { DeleteObjectsCommand } from "@aws-sdk/client-s3";
import { DescribeImagesCommand } from "@aws-sdk/client-ecr";
import type { Context } from "../commands/command.js";
import { bucketName, type Config, functionEnvironment, resourceNames } from "../config.js";
import { UserError } from "../errors.js";
import type { BuilderChoice, ImageBuilder } from "../image/index.js";
import { stageFunction } from "../image/stage.js";
import type { ModelSpec } from "../model/spec.js";
import { uploadAndWait } from "../pipeline/upload.js";
import { formatBytes, formatMs, table } from "../ui/output.js";
import type { ReportLine } from "../ui/logs.js";
import type { AwsClients } from "./clients.js";
import { translateAwsError } from "./errors.js";
import { ensureRepository, pushRepository, registryLogin } from "./ecr.js";
import { ensureRole, rolePolicy } from "./iam.js";
import { digestOf, ensureFunction, ensureInvokePermission, getFunction, currentImage } from "./lambda.js";
import { ensureLogGroup, findReport } from "./logs.js";
import { type Action, changed, describeOutcome, type Outcome, outcome } from "./outcome.js";
import type { Sleep, Waiter } from "./retry.js";
import { ensureBucket, ensureTrigger } from "./s3.js";
import { callerIdentity, type Identity } from "./sts.js";
import { DEFAULT_GOLDEN_TOLERANCE, GoldenMismatch, type GoldenReport, renderGoldenReport } from "../golden/golden.js";
import { checkGoldenThroughS3 } from "../golden/s3.js";

export interface DeployOptions {
  dryRun?: boolean;
  /** false with --no-verify. */
  verify?: boolean;
  /** Deploy this image (pushed elsewhere) instead of building. */
  image?: string;
  registry?: string;
  builder?: BuilderChoice;
  /** Also check this golden file's images through the deployed function (src/golden/). */
  golden?: string;
  tolerance?: number;
}

export interface DeployDeps {
  clients: AwsClients;
  selectBuilder: (choice: BuilderChoice) => Promise<ImageBuilder>;
  loadModel: (onProgress: (text: string) => void) => Promise<ModelSpec>;
  sleep: Sleep;
  /** The verification image (samples/cat.jpg). */
  sample: string;
  /** How long verify waits for the result (ms); default max(120 s, 3 × the function timeout). */
  verifyTimeout?: number;
  /** Writes the task root (default: image/stage.ts). */
  stage?: typeof stageFunction;
}

export interface StepRecord {
  step: string;
  resource: string;
  action: Action;
  changes: string[];
}

export interface VerifyReport {
  key: string;
  top1: string;
  score: number;
  latencyMs: number;
  report?: ReportLine;
}

export interface DeployReport {
  dryRun: boolean;
  account: string;
  region: string;
  bucket: string;
  functionName: string;
  functionArn?: string;
  imageUri?: string;
  steps: StepRecord[];
  changed: boolean;
  verify?: VerifyReport;
  golden?: GoldenReport;
  /** Set when a dry run could not read the account (no credentials): everything is planned as new. */
  offline?: boolean;
  /** Why the plan is offline. */
  note?: string;
}

/** ImageNet's cat classes (tabby … Egyptian cat) in the bundled model. */
const CAT_CLASSES = new Set([281, 282, 283, 284, 285]);
export const IMAGE_TAG = "latest";

export async function deploy(ctx: Context, config: Config, opts: DeployOptions, deps: DeployDeps): Promise<DeployReport> {
  const { clients } = deps;
  const dryRun = Boolean(opts.dryRun);
  const names = resourceNames(config);
  const region = clients.region;
  const steps: StepRecord[] = [];

  // One helper runs a step: spinner + outcome when applying; silent collection under --dry-run.
  const run = async <T extends Outcome>(step: string, title: string, resource: string, fn: (waiter: Waiter, update: (t: string) => void) => Promise<T>): Promise<T> => {
    const body = async (update: (t: string) => void) => {
      const waiter: Waiter = {
        sleep: deps.sleep,
        signal: ctx.signal,
        onWait: (m) => {
          update(m);
          if (!ctx.out.interactive) ctx.out.info(`  … ${m}`);
        },
      };
      const o = await fn(waiter, update);
      steps.push({ step, resource, action: o.action, changes: o.changes });
      return o;
    };
    if (dryRun) return body(() => {});
    return ctx.out.step(title, async (s) => {
      const o = await body((t) => s.update(t));
      s.done(`${resource}: ${describeOutcome(o)}`);
      return o;
    });
  };

  // 1. Who and where
  let identity: Identity;
  try {
    identity = dryRun ? await callerIdentity(clients.sts) : await ctx.out.step("Account and region", async (s) => {
      const id = await callerIdentity(clients.sts);
      s.done(`${id.account} in ${region}`);
      return id;
    });
  } catch (err) {
    const translated = translateAwsError(err, { profile: clients.options.profile });
    if (dryRun && translated instanceof UserError) return freshPlan(config, region, opts, translated.message);
    throw translated;
  }
  const { account, partition } = identity;
  const bucket = bucketName(config, account, region);
  const bucketArn = `arn:${partition}:s3:::${bucket}`;

  // 2. Bucket
  await run("bucket", "Bucket", bucket, () => ensureBucket(clients.s3, { bucket, region, tags: names.tags }, { dryRun }));

  // 3. Repository
  const plannedRepoUri = `${account}.dkr.ecr.${region}.amazonaws.com/${names.repositoryName}`;
  const repo = await run("repository", "Image repository", names.repositoryName, () => ensureRepository(clients.ecr, { name: names.repositoryName, tags: names.tags }, { dryRun }));
  const repositoryUri = repo.repositoryUri ?? plannedRepoUri;

  // 4. Image
  const existingFn = await getFunction(clients.lambda, names.functionName);
  const runningImage = existingFn ? currentImage(existingFn) : undefined;
  let imageUri: string | undefined;
  if (opts.image) {
    await run("image", "Image", opts.image, async () => {
      imageUri = await resolveImageDigest(clients, opts.image!);
      return digestOf(runningImage) === digestOf(imageUri) ? outcome("unchanged", [short(imageUri)]) : outcome("update", [`use ${short(imageUri)} (--image)`]);
    });
  } else if (dryRun) {
    steps.push({ step: "image", resource: repositoryUri, action: existingFn ? "update" : "create", changes: [`build for linux/${archName(config)} and push to ${pushRepository(repositoryUri, opts.registry)}; the function changes only if the digest does`] });
  } else {
    await run("image", "Image", names.repositoryName, async (_w, update) => {
      const built = await buildAndPush(ctx, config, opts, deps, repositoryUri, update);
      imageUri = `${repositoryUri}@${built.digest}`;
      const same = digestOf(runningImage) === built.digest;
      return outcome(same ? "unchanged" : existingFn ? "update" : "create", [`${short(imageUri)}${built.uploadedBytes ? `, ${formatBytes(built.uploadedBytes)} pushed` : ""}`]);
    });
  }

  // 5. Role
  const policy = rolePolicy({ partition, region, account, bucket, inputPrefix: config.inputPrefix, outputPrefix: config.outputPrefix, logGroupName: names.logGroupName });
  const role = await run("role", "Role", names.roleName, () => ensureRole(clients.iam, { roleName: names.roleName, policyName: names.policyName, policy, tags: names.tags, account, partition }, { dryRun }));

  // 6. Log group (before the function: its role may write to the group but not create it), function
  await run("log-group", "Log group", names.logGroupName, () => ensureLogGroup(clients.logs, { name: names.logGroupName, retentionDays: config.logRetentionDays, tags: names.tags }, { dryRun }));
  const fn = await run("function", "Function", names.functionName, (waiter) =>
    ensureFunction(
      clients.lambda,
      {
        functionName: names.functionName,
        roleArn: role.roleArn,
        imageUri,
        architecture: config.architecture,
        memory: config.memory,
        timeout: config.timeout,
        environment: functionEnvironment(config, { endpointUrl: clients.options.endpointUrl }),
        tags: names.tags,
        reservedConcurrency: config.reservedConcurrency,
        retries: config.retries,
      },
      waiter,
      { dryRun },
    ),
  );
  const functionArn = fn.functionArn ?? `arn:${partition}:lambda:${region}:${account}:function:${names.functionName}`;

  // 7. Permission
  await run("permission", "Invoke permission", names.permissionStatementId, (waiter) =>
    ensureInvokePermission(clients.lambda, { functionName: names.functionName, statementId: names.permissionStatementId, bucketArn, account }, waiter, { dryRun }),
  );

  // 8. Trigger
  await run("trigger", "Trigger", `s3://${bucket}/${config.inputPrefix}`, () =>
    ensureTrigger(clients.s3, { bucket, idPrefix: names.notificationIdPrefix, functionArn, prefix: config.inputPrefix, suffixes: config.suffixes }, { dryRun }),
  );

  const report: DeployReport = { dryRun, account, region, bucket, functionName: names.functionName, functionArn, imageUri, steps, changed: steps.some((s) => changed(s)) };

  // 9. Verify
  if (opts.verify === false) {
    steps.push({ step: "verify", resource: "samples/cat.jpg", action: "skip", changes: ["--no-verify"] });
  } else if (dryRun) {
    steps.push({ step: "verify", resource: "samples/cat.jpg", action: "create", changes: [`upload under s3://${bucket}/${config.inputPrefix}, wait for the result, then delete both`] });
  } else {
    report.verify = await ctx.out.step("Verify", async (s) => {
      s.update("uploading samples/cat.jpg and waiting for its result");
      const v = await verifyDeployment(ctx, config, bucket, deps);
      s.done(`${v.top1} (${(v.score * 100).toFixed(1)}%) in ${formatMs(v.latencyMs)} end to end`);
      return v;
    });
    if (opts.golden) report.golden = await verifyGolden(ctx, config, bucket, deps, opts.golden, opts.tolerance ?? DEFAULT_GOLDEN_TOLERANCE);
  }
  return report;
}

/** The golden images through the deployed function; exit 1 with the table of files that moved. */
async function verifyGolden(ctx: Context, config: Config, bucket: string, deps: DeployDeps, golden: string, tolerance: number): Promise<GoldenReport> {
  const { report } = await ctx.out.step("Golden check", async (s) => {
    const r = await checkGoldenThroughS3(deps.clients.s3, config, bucket, golden, {
      tolerance,
      timeout: deps.verifyTimeout ?? Math.max(120_000, config.timeout * 3000),
      signal: ctx.signal,
      onProgress: (done, total) => s.update(`${done}/${total} results`),
    });
    s.done(`${r.report.files} images, top-1 agreement ${(r.report.top1Agreement * 100).toFixed(1)}%, max |Δp| ${r.report.maxDeltaP.toFixed(4)}`);
    return r;
  });
  if (!report.passed) {
    ctx.out.print(renderGoldenReport(report));
    throw new GoldenMismatch(report);
  }
  return report;
}

function archName(config: Config): string {
  return config.architecture === "arm64" ? "arm64" : "amd64";
}

const short = (uri: string | undefined) => {
  const d = digestOf(uri);
  return d ? `${uri!.split("@")[0].split("/").pop()}@${d.slice(0, 19)}…` : (uri ?? "");
};

/**
 * Stage the function, log in to ECR, build and push with the selected builder. The push goes to
 * the registry the login is for (GetAuthorizationToken's proxyEndpoint: an emulator names its own
 * host there), or to --registry.
 */
async function buildAndPush(ctx: Context, config: Config, opts: DeployOptions, deps: DeployDeps, repositoryUri: string, update: (t: string) => void) {
  update("loading the model");
  const spec = await deps.loadModel(update);
  const dir = await mkdtemp(join(tmpdir(), "imgfn-stage-"));
  try {
    const staged = await (deps.stage ?? stageFunction)(spec, join(dir, "task"));
    update("logging in to ECR");
    const auth = await registryLogin(deps.clients.ecr);
    const registry = opts.registry ?? auth.endpoint;
    const repository = pushRepository(repositoryUri, registry);
    const builder = await deps.selectBuilder(opts.builder ?? "auto");
    update(`building with ${builder.name}`);
    try {
      return await builder.build({
        staged,
        architecture: config.architecture,
        baseImage: config.baseImage,
        repository,
        tag: IMAGE_TAG,
        auth: { username: auth.username, password: auth.password },
        // an emulator's login endpoint (or --registry) may say http:// explicitly
        plainHttp: registry?.startsWith("http://") || undefined,
        signal: ctx.signal,
        onProgress: update,
      });
    } catch (err) {
      throw explainBuildError(err);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A builder failing for want of a Docker daemon points to the daemonless builder. */
export function explainBuildError(err: unknown): unknown {
  if (err instanceof UserError) return err;
  const message = (err as Error)?.message ?? "";
  if (/Cannot connect to the Docker daemon|docker daemon is not running|docker: not found|spawn docker ENOENT/i.test(message) || (err as NodeJS.ErrnoException)?.code === "ENOENT") {
    return new UserError("no Docker daemon is available to build the image", { hint: "start Docker, or build without it: imgfn deploy --builder oci", cause: err });
  }
  return err;
}

/** --image: a digest is used as is; an ECR tag is resolved to its digest (never deploy a moving tag). */
export async function resolveImageDigest(clients: AwsClients, image: string): Promise<string> {
  if (digestOf(image)) return image;
  // <account>.dkr.ecr.<region>.amazonaws.com[.cn], or an emulator's <account>.dkr.ecr.<region>.<its host>[:port]
  const m = /^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.[^/@]+\/([^:@]+):([\w.-]+)$/.exec(image);
  if (!m) {
    throw new UserError(`--image ${image} has no digest`, { hint: "pass it as repository@sha256:… (the function is always updated by digest, never by a moving tag)" });
  }
  const res = await clients.ecr.send(new DescribeImagesCommand({ registryId: m[1], repositoryName: m[2], imageIds: [{ imageTag: m[3] }] }));
  const digest = res.imageDetails?.[0]?.imageDigest;
  if (!digest) throw new UserError(`no image tagged ${m[3]} in ${m[2]}`, { hint: "push it first, or pass repository@sha256:…" });
  return `${image.slice(0, image.lastIndexOf(":"))}@${digest}`;
}

/** Uploads the sample under a unique key, checks the result, reads the REPORT line, cleans up. */
export async function verifyDeployment(ctx: Context, config: Config, bucket: string, deps: DeployDeps): Promise<VerifyReport> {
  const { s3, logs } = deps.clients;
  const ext = verificationSuffix(config.suffixes, extname(deps.sample));
  const key = `${config.inputPrefix}imgfn-verify-${randomUUID().slice(0, 8)}${ext}`;
  const started = Date.now();
  const logGroup = resourceNames(config).logGroupName;
  const outcome = await uploadAndWait(s3, config, bucket, deps.sample, key, { timeout: deps.verifyTimeout ?? Math.max(120_000, config.timeout * 3000), signal: ctx.signal });
  try {
    if (outcome.failure || !outcome.result) {
      throw new UserError(`verification failed: uploaded s3://${bucket}/${key} but ${outcome.failure ?? "got no result"}`, {
        hint: `see whether the function ran and what it logged: imgfn logs --since 10m (log group ${logGroup}); no invocation there means the trigger did not fire: imgfn status`,
      });
    }
    const result = outcome.result;
    if (result.error) throw new UserError(`verification failed: the function answered ${result.error.code}: ${result.error.message}`, { hint: "imgfn logs --since 10m" });
    const top = result.predictions?.[0];
    if (!top) throw new UserError("verification failed: the result has no predictions", { hint: "imgfn logs --since 10m" });
    if (!config.model && !CAT_CLASSES.has(top.index)) {
      throw new UserError(`verification failed: the sample cat was classified as "${top.label}"`, { hint: "check the model and preprocessing with: imgfn predict samples/cat.jpg" });
    }
    const report = result.requestId ? await findReport(logs, logGroup, result.requestId, started - 60_000, { sleep: deps.sleep, signal: ctx.signal }) : undefined;
    return { key, top1: top.label, score: top.score, latencyMs: outcome.latency ?? Date.now() - started, report };
  } finally {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: key }, { Key: outcome.resultKey }], Quiet: true } })).catch((err) => {
      ctx.out.warn(`could not delete the verification objects ${key}, ${outcome.resultKey}: ${(err as Error).message}`);
    });
  }
}

/** A key suffix the trigger accepts, preferring the sample's own extension. */
export function verificationSuffix(suffixes: string[], ext: string): string {
  if (!suffixes.length || suffixes.includes(ext)) return ext;
  return suffixes.find((s) => s.toLowerCase() === ext.toLowerCase() || /jpe?g$/i.test(s)) ?? `${ext}${suffixes[0]}`;
}

/** The plan for an account where nothing exists yet (a dry run without credentials). */
export function freshPlan(config: Config, region: string, opts: DeployOptions, why?: string): DeployReport {
  const names = resourceNames(config);
  const account = "<account>";
  const bucket = config.bucket ?? `imgfn-${config.app}-<account>-${region}`;
  const s = (step: string, resource: string, changes: string[], action: Action = "create"): StepRecord => ({ step, resource, action, changes });
  const steps = [
    s("bucket", bucket, ["public access blocked", "tagged"]),
    s("repository", names.repositoryName, ["scan on push", "keeps the last 10 images"]),
    opts.image
      ? s("image", opts.image, ["use this image (--image), by digest"])
      : s("image", `<account>.dkr.ecr.${region}.amazonaws.com/${names.repositoryName}`, [`build for linux/${archName(config)} and push${opts.registry ? ` via ${opts.registry}` : ""}`]),
    s("role", names.roleName, ["trusted by lambda.amazonaws.com", "least-privilege inline policy"]),
    s("log-group", names.logGroupName, [`retention ${config.logRetentionDays} days`]),
    s("function", names.functionName, [`${config.architecture}, ${config.memory} MB, ${config.timeout} s`, ...(config.reservedConcurrency !== undefined ? [`reserved concurrency ${config.reservedConcurrency}`] : [])]),
    s("permission", names.permissionStatementId, [`s3.amazonaws.com from ${bucket}`]),
    s("trigger", `s3://${bucket}/${config.inputPrefix}`, [`${Math.max(1, config.suffixes.length)} rule(s) for ${config.suffixes.join(" ") || "every key"}`]),
    opts.verify === false ? s("verify", "samples/cat.jpg", ["--no-verify"], "skip") : s("verify", "samples/cat.jpg", ["upload, wait for the result, delete both"]),
  ];
  return { dryRun: true, offline: true, account, region, bucket, functionName: names.functionName, steps, changed: true, note: why };
}

const SYMBOL: Record<Action, string> = { create: "+", update: "~", unchanged: "=", delete: "-", absent: " ", skip: "·" };
const VERB: Record<Action, string> = { create: "create", update: "update", unchanged: "unchanged", delete: "delete", absent: "absent", skip: "skip" };

/** The --dry-run plan, one line per resource. */
export function renderPlan(report: DeployReport): string {
  const head = report.offline
    ? `Plan for ${report.functionName} in ${report.region} (no AWS access${report.note ? `: ${report.note}` : ""}; planned as a fresh account). Nothing was changed.`
    : `Plan for ${report.functionName} in ${report.region}, account ${report.account}. Nothing was changed.`;
  const rows = report.steps.map((s) => [SYMBOL[s.action], s.step, VERB[s.action], s.resource, s.changes.join("; ")]);
  const tally = (a: Action) => report.steps.filter((s) => s.action === a).length;
  return `${head}\n${table(rows, { indent: 2 })}\n${tally("create")} to create, ${tally("update")} to update, ${tally("unchanged")} unchanged.`;
}
