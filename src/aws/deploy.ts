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
import { bucketName, type Config, type HttpConfig, resourceNames } from "../config.js";
import { UserError } from "../errors.js";
import type { BuilderChoice, BuildRequest, ImageBuilder } from "../image/index.js";
import { preflight } from "../image/preflight.js";
import { parseReference } from "../image/reference.js";
import { RegistryClient } from "../image/registry.js";
import { stageFunction } from "../image/stage.js";
import type { ModelSpec } from "../model/spec.js";
import { uploadAndWait } from "../pipeline/upload.js";
import { formatBytes, formatMs, table } from "../ui/output.js";
import type { ReportLine } from "../ui/logs.js";
import type { AwsClients } from "./clients.js";
import { translateAwsError } from "./errors.js";
import { ensureRepository, pushRepository, registryLogin } from "./ecr.js";
import { deployedBucket, desiredState } from "./desired.js";
import { emulatorCannotRunImages } from "./emulator.js";
import { ensureRole } from "./iam.js";
import { currentImage, digestOf, ensureEventInvokeConfig, ensureFunction, ensureInvokePermission, getFunction } from "./lambda.js";
import { ensureLogGroup, findReport } from "./logs.js";
import { lambdaUrlSigner } from "./url-signer.js";
import { getFunctionUrl, type HttpVerifyReport, PUBLIC_URL_WARNING, syncFunctionUrl, verifyHttpStep } from "./function-url.js";
import { type Action, changed, describeOutcome, type Outcome, outcome } from "./outcome.js";
import type { Sleep, Waiter } from "./retry.js";
import { ensureBucket, ensureTrigger, removeTrigger } from "./s3.js";
import { ensureFailureQueue } from "./sqs.js";
import { callerIdentity, type Identity } from "./sts.js";
import { DEFAULT_GOLDEN_TOLERANCE, GoldenMismatch, type GoldenReport, renderGoldenReport } from "../golden/golden.js";
import { checkGoldenOverHttp } from "../golden/http.js";
import { checkGoldenThroughS3 } from "../golden/s3.js";

export interface DeployOptions {
  dryRun?: boolean;
  /** false with --no-verify. */
  verify?: boolean;
  /** Deploy this image (pushed elsewhere) instead of building. */
  image?: string;
  registry?: string;
  builder?: BuilderChoice;
  /** --base-image: overrides the config's baseImage. */
  baseImage?: string;
  /** Credentials and CA for the base image's registry and the push (--registry-ca, docker config). */
  imageAccess?: Pick<BuildRequest, "ca" | "baseCa" | "baseAuth">;
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
  /** Reads an --image back from its registry and refuses what Lambda would (default: preflightImage). */
  preflightImage?: typeof preflightImage;
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
  /** The Function URL when "http" is on (deploy --http). */
  functionUrl?: string;
  verifyHttp?: HttpVerifyReport;
  golden?: GoldenReport;
  /** The golden check through the Function URL (deploy --golden with http on). */
  goldenHttp?: GoldenReport;
  /** Set when a dry run could not read the account (no credentials): everything is planned as new. */
  offline?: boolean;
  /** Why the plan is offline. */
  note?: string;
  /** Why verify did not run although it was not turned off (an emulator that cannot run the function). */
  verifySkipped?: string;
}

/** ImageNet's cat classes (tabby … Egyptian cat) in the bundled model. */
const CAT_CLASSES = new Set([281, 282, 283, 284, 285]);
export const IMAGE_TAG = "latest";

/**
 * One resource step. `readOnly`: the same checks run with read calls only, and a refusal (a
 * foreign resource of the same name, an overlapping rule, a bucket elsewhere) throws either way.
 */
interface DeployStep {
  step: string;
  title: string;
  resource: string;
  run: (readOnly: boolean, waiter: Waiter, update: (t: string) => void) => Promise<Outcome>;
}

export async function deploy(ctx: Context, config: Config, opts: DeployOptions, deps: DeployDeps): Promise<DeployReport> {
  const { clients } = deps;
  const dryRun = Boolean(opts.dryRun);
  const names = resourceNames(config);
  const region = clients.region;

  const waiterFor = (update: (t: string) => void): Waiter => ({
    sleep: deps.sleep,
    signal: ctx.signal,
    onWait: (m) => {
      update(m);
      if (!ctx.out.interactive) ctx.out.info(`  … ${m}`);
    },
  });

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

  // 2. An image built elsewhere passes the same preflight as our own, before any Lambda call
  let imageUri: string | undefined;
  if (opts.image) {
    imageUri = await resolveImageDigest(clients, opts.image);
    await (deps.preflightImage ?? preflightImage)(clients, imageUri, config, opts);
  }

  const existingFn = await getFunction(clients.lambda, names.functionName);
  const runningImage = existingFn ? currentImage(existingFn) : undefined;
  // the bucket: --bucket or the config's, else the one this function was deployed to, else imgfn's default
  const previousBucket = deployedBucket(existingFn);
  const bucket = config.bucket ?? previousBucket ?? bucketName(config, account, region);
  const want = desiredState(config, { identity, region, bucket, endpointUrl: clients.options.endpointUrl });
  const plannedRepoUri = `${account}.dkr.ecr.${region}.amazonaws.com/${names.repositoryName}`;
  let repositoryUri = plannedRepoUri;
  let roleArn = want.roleArn;
  let functionArn = `arn:${partition}:lambda:${region}:${account}:function:${names.functionName}`;

  const imageStep: DeployStep = {
    step: "image",
    title: "Image",
    resource: opts.image ?? names.repositoryName,
    run: async (readOnly, _w, update) => {
      if (imageUri && opts.image) return digestOf(runningImage) === digestOf(imageUri) ? outcome("unchanged", [short(imageUri)]) : outcome(existingFn ? "update" : "create", [`use ${short(imageUri)} (--image)`]);
      // before a real deploy the image is not built twice: the apply step builds it and compares digests
      if (readOnly) return dryRun ? planImage(ctx, config, opts, deps, runningImage, update) : outcome("skip", ["built next, compared by digest"]);
      const built = await buildAndPush(ctx, config, opts, deps, repositoryUri, update);
      imageUri = `${repositoryUri}@${built.digest}`;
      const same = digestOf(runningImage) === built.digest;
      return outcome(same ? "unchanged" : existingFn ? "update" : "create", [`${short(imageUri)}${built.uploadedBytes ? `, ${formatBytes(built.uploadedBytes)} pushed` : ", nothing pushed"}`]);
    },
  };

  const steps: DeployStep[] = [
    { step: "bucket", title: "Bucket", resource: bucket, run: (readOnly) => ensureBucket(clients.s3, { bucket, region, tags: names.tags }, { dryRun: readOnly }) },
    {
      step: "repository",
      title: "Image repository",
      resource: names.repositoryName,
      run: async (readOnly) => {
        const repo = await ensureRepository(clients.ecr, { name: names.repositoryName, tags: names.tags }, { dryRun: readOnly });
        repositoryUri = repo.repositoryUri ?? plannedRepoUri;
        return repo;
      },
    },
    imageStep,
    {
      step: "role",
      title: "Role",
      resource: names.roleName,
      run: async (readOnly) => {
        const role = await ensureRole(clients.iam, { roleName: names.roleName, policyName: names.policyName, policy: want.policy, tags: names.tags, account, partition }, { dryRun: readOnly });
        roleArn = role.roleArn;
        return role;
      },
    },
    {
      step: "failure-queue",
      title: "Failure queue",
      resource: names.failureQueueName,
      run: (readOnly, waiter) => ensureFailureQueue(clients.sqs, { name: names.failureQueueName, arn: want.failureQueueArn, roleArn, tags: names.tags }, { dryRun: readOnly, waiter }),
    },
    // the log group before the function: its role may write to the group but not create it
    { step: "log-group", title: "Log group", resource: names.logGroupName, run: (readOnly) => ensureLogGroup(clients.logs, { name: names.logGroupName, retentionDays: config.logRetentionDays, tags: names.tags }, { dryRun: readOnly }) },
    {
      step: "function",
      title: "Function",
      resource: names.functionName,
      run: async (readOnly, waiter) => {
        const fn = await ensureFunction(
          clients.lambda,
          {
            functionName: names.functionName,
            roleArn,
            imageUri,
            architecture: config.architecture,
            memory: config.memory,
            timeout: config.timeout,
            environment: want.environment,
            tags: names.tags,
            reservedConcurrency: config.reservedConcurrency,
          },
          waiter,
          { dryRun: readOnly },
        );
        functionArn = fn.functionArn ?? functionArn;
        return fn;
      },
    },
    { step: "events", title: "Async invocations", resource: names.functionName, run: (readOnly, waiter) => ensureEventInvokeConfig(clients.lambda, want.eventInvoke, waiter, { dryRun: readOnly }) },
    {
      step: "permission",
      title: "Invoke permission",
      resource: names.permissionStatementId,
      run: (readOnly, waiter) => ensureInvokePermission(clients.lambda, { functionName: names.functionName, statementId: names.permissionStatementId, bucketArn: want.bucketArn, account }, waiter, { dryRun: readOnly }),
    },
    {
      step: "trigger",
      title: "Trigger",
      resource: `s3://${bucket}/${config.inputPrefix}`,
      run: (readOnly, waiter) => ensureTrigger(clients.s3, { bucket, idPrefix: names.notificationIdPrefix, functionArn, prefix: config.inputPrefix, suffixes: config.suffixes }, { dryRun: readOnly, waiter }),
    },
  ];
  // the Function URL ("http" / --http), or its removal when http is off and one is still there
  let functionUrl: string | undefined;
  if (config.http || (existingFn && (await getFunctionUrl(clients.lambda, names.functionName)))) {
    steps.push({
      step: "function-url",
      title: "Function URL",
      resource: names.functionName,
      run: async (readOnly, waiter) => {
        const o: Outcome & { url?: string } = (await syncFunctionUrl(clients.lambda, names.functionName, config.http, waiter, { dryRun: readOnly })) ?? outcome("absent");
        functionUrl = o.url ?? functionUrl;
        return o;
      },
    });
  }
  if (config.http && config.http.auth === "NONE") ctx.out.warn(PUBLIC_URL_WARNING);
  if (previousBucket && previousBucket !== bucket) {
    // moved to another bucket: the rules on the old one would invoke the function for uploads it now skips
    steps.push({ step: "old-trigger", title: "Old trigger", resource: `s3://${previousBucket}`, run: (readOnly, waiter) => removeTrigger(clients.s3, previousBucket, names.notificationIdPrefix, names.functionName, { dryRun: readOnly, waiter }) });
  }

  // 3. Every check that can refuse runs before the first change: read-only, in order
  const planned: StepRecord[] = [];
  const checkAll = async () => {
    for (const st of steps) {
      const o = await st.run(true, waiterFor(() => {}), () => {});
      planned.push({ step: st.step, resource: st.resource, action: o.action, changes: o.changes });
    }
  };
  if (dryRun) await checkAll();
  else {
    await ctx.out.step("Checks", async (s) => {
      s.update("reading every resource before changing any");
      await checkAll();
      s.done(`nothing in the way (${tally(planned)})`);
    });
  }
  const reportOf = (records: StepRecord[]): DeployReport => ({
    dryRun,
    account,
    region,
    bucket,
    functionName: names.functionName,
    functionArn,
    imageUri,
    steps: records,
    changed: records.some((r) => changed(r)),
    functionUrl,
  });
  if (dryRun) {
    planned.push({ step: "verify", resource: "samples/cat.jpg", action: "skip", changes: [opts.verify === false ? "--no-verify" : `after a deploy: upload under s3://${bucket}/${config.inputPrefix}, wait for the result, then delete both`] });
    return reportOf(planned);
  }

  // 4. Apply
  const applied: StepRecord[] = [];
  for (const st of steps) {
    const o = await ctx.out.step(st.title, async (s) => {
      const r = await st.run(false, waiterFor((t) => s.update(t)), (t) => s.update(t));
      s.done(`${st.resource}: ${describeOutcome(r)}`);
      return r;
    });
    applied.push({ step: st.step, resource: st.resource, action: o.action, changes: o.changes });
  }
  const report = reportOf(applied);

  // 5. Verify
  const cannotRun = opts.verify === false ? undefined : await emulatorCannotRunImages(clients.options.endpointUrl);
  if (opts.verify === false || cannotRun) {
    applied.push({ step: "verify", resource: "samples/cat.jpg", action: "skip", changes: [cannotRun ?? "--no-verify"] });
    if (cannotRun) report.verifySkipped = cannotRun;
  } else {
    report.verify = await ctx.out.step("Verify", async (s) => {
      s.update("uploading samples/cat.jpg and waiting for its result");
      const v = await verifyDeployment(ctx, config, bucket, deps);
      s.done(`${v.top1} (${(v.score * 100).toFixed(1)}%) in ${formatMs(v.latencyMs)} end to end`);
      return v;
    });
    if (opts.golden) report.golden = await verifyGolden(ctx, config, bucket, deps, opts.golden, opts.tolerance ?? DEFAULT_GOLDEN_TOLERANCE);
  }
  // 5b. …and the HTTP path, where it can run
  if (config.http && functionUrl && opts.verify !== false) {
    report.verifyHttp = await verifyHttpStep(ctx, clients, config.http, functionUrl, deps.sample, applied, (i) => Boolean(config.model) || CAT_CLASSES.has(i));
    if (report.verifyHttp && opts.golden) {
      report.goldenHttp = await verifyGoldenOverHttp(ctx, clients, config.http, functionUrl, opts.golden, opts.tolerance ?? DEFAULT_GOLDEN_TOLERANCE);
    }
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
  return goldenVerdict(ctx, report);
}

/** The same golden images POSTed to the Function URL (signed for AWS_IAM). */
async function verifyGoldenOverHttp(ctx: Context, clients: AwsClients, http: HttpConfig, url: string, golden: string, tolerance: number): Promise<GoldenReport> {
  const sign = http.auth === "AWS_IAM" ? lambdaUrlSigner(clients.lambda, clients.region) : undefined;
  const report = await ctx.out.step("Golden check over HTTP", async (s) => {
    const r = await checkGoldenOverHttp(url, golden, { tolerance, sign, signal: ctx.signal, onProgress: (done, total) => s.update(`${done}/${total} answers`) });
    s.done(`${r.files} images, top-1 agreement ${(r.top1Agreement * 100).toFixed(1)}%, max |Δp| ${r.maxDeltaP.toFixed(4)}`);
    return r;
  });
  return goldenVerdict(ctx, report);
}

/** A failed golden check prints the table of the files that moved and exits 1. */
function goldenVerdict(ctx: Context, report: GoldenReport): GoldenReport {
  if (!report.passed) {
    ctx.out.print(renderGoldenReport(report));
    throw new GoldenMismatch(report);
  }
  return report;
}

/**
 * --dry-run's image step: the daemonless builder computes the digest without pushing, so an
 * unchanged image plans as "unchanged"; the docker builder cannot tell without building and pushing.
 */
async function planImage(ctx: Context, config: Config, opts: DeployOptions, deps: DeployDeps, runningImage: string | undefined, update: (t: string) => void): Promise<Outcome> {
  const what = `build for linux/${archName(config)} and push`;
  if (!runningImage) return outcome("create", [what]);
  try {
    const builder = await deps.selectBuilder(opts.builder ?? "auto");
    if (builder.name !== "oci") return outcome("update", [`${what}; the function changes only if the digest does (the docker builder cannot tell before pushing)`]);
    const built = await withStaged(ctx, deps, update, (staged) => builder.build({ staged, architecture: config.architecture, baseImage: opts.baseImage ?? config.baseImage, signal: ctx.signal, onProgress: update }));
    return built.digest === digestOf(runningImage) ? outcome("unchanged", [`the same image (${built.digest.slice(0, 19)}…)`]) : outcome("update", [`${what} ${built.digest.slice(0, 19)}…`]);
  } catch (err) {
    return outcome("update", [`${what}; could not build to compare digests (${(err as Error).message})`]);
  }
}

/** `--image`: read the manifest back from the registry and refuse what Lambda would (an index, an attestation, the wrong platform). */
export async function preflightImage(clients: AwsClients, image: string, config: Config, opts: DeployOptions): Promise<void> {
  const ref = parseReference(image);
  const registry = opts.registry ? opts.registry.replace(/^https?:\/\//, "").replace(/\/+$/, "") : ref.registry;
  const isEcr = /\.dkr\.ecr\./.test(ref.registry);
  const auth = isEcr ? await registryLogin(clients.ecr) : undefined;
  const client = new RegistryClient(registry, { auth: auth ? { username: auth.username, password: auth.password } : undefined, plainHttp: opts.registry?.startsWith("http://") || undefined });
  try {
    await preflight(client, ref.repository, ref.digest!, config.architecture);
  } finally {
    await client.close();
  }
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
  return withStaged(ctx, deps, update, async (staged) => {
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
        baseImage: opts.baseImage ?? config.baseImage,
        repository,
        tag: IMAGE_TAG,
        auth: { username: auth.username, password: auth.password },
        // an emulator's login endpoint (or --registry) may say http:// explicitly
        plainHttp: registry?.startsWith("http://") || undefined,
        ...opts.imageAccess,
        signal: ctx.signal,
        onProgress: update,
      });
    } catch (err) {
      throw explainBuildError(err);
    }
  });
}

/** Loads the model and stages the function in a temporary folder for `fn`. */
async function withStaged<T>(ctx: Context, deps: DeployDeps, update: (t: string) => void, fn: (staged: Awaited<ReturnType<typeof stageFunction>>) => Promise<T>): Promise<T> {
  update("loading the model");
  const spec = await deps.loadModel(update);
  const dir = await mkdtemp(join(tmpdir(), "imgfn-stage-"));
  try {
    return await fn(await (deps.stage ?? stageFunction)(spec, join(dir, "task")));
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
    s("failure-queue", names.failureQueueName, ["SSE-SQS", "14 days retention", "only the function's role may send"]),
    s("log-group", names.logGroupName, [`retention ${config.logRetentionDays} days`]),
    s("function", names.functionName, [`${config.architecture}, ${config.memory} MB, ${config.timeout} s`, ...(config.reservedConcurrency !== undefined ? [`reserved concurrency ${config.reservedConcurrency}`] : [])]),
    s("events", names.functionName, [`${config.retries} retries, failed events → ${names.failureQueueName}`]),
    s("permission", names.permissionStatementId, [`s3.amazonaws.com from ${bucket}`]),
    s("trigger", `s3://${bucket}/${config.inputPrefix}`, [`${Math.max(1, config.suffixes.length)} rule(s) for ${config.suffixes.join(" ") || "every key"}`]),
    ...(config.http ? [s("function-url", names.functionName, [`auth ${config.http.auth}`, ...(config.http.auth === "NONE" ? ["allow anyone: lambda:InvokeFunctionUrl, lambda:InvokeFunction (via the URL)"] : [])])] : []),
    s("verify", "samples/cat.jpg", [opts.verify === false ? "--no-verify" : "after a deploy: upload, wait for the result, delete both"], "skip"),
  ];
  return { dryRun: true, offline: true, account, region, bucket, functionName: names.functionName, steps, changed: true, note: why };
}

const SYMBOL: Record<Action, string> = { create: "+", update: "~", unchanged: "=", delete: "-", absent: " ", skip: "·" };
const VERB: Record<Action, string> = { create: "create", update: "update", unchanged: "unchanged", delete: "delete", absent: "absent", skip: "skip" };

/** The --dry-run plan, one line per resource. */
export function renderPlan(report: DeployReport): string {
  const head = report.offline
    ? `Plan for ${report.functionName} in ${report.region} (no AWS access${report.note ? `: ${report.note}` : ""}; planned as a fresh account). Nothing was changed.`
    : report.changed
      ? `Plan for ${report.functionName} in ${report.region}, account ${report.account}. Nothing was changed.`
      : `No changes: ${report.functionName} in ${report.region}, account ${report.account}, already matches the config. Nothing was changed.`;
  const rows = report.steps.map((s) => [SYMBOL[s.action], s.step, VERB[s.action], s.resource, s.changes.join("; ")]);
  return `${head}\n${table(rows, { indent: 2 })}\n${tally(report.steps)}.`;
}

/** "2 to create, 1 to update, 8 unchanged" */
function tally(steps: StepRecord[]): string {
  const n = (a: Action) => steps.filter((s) => s.action === a).length;
  return `${n("create")} to create, ${n("update")} to update, ${n("unchanged")} unchanged`;
}
