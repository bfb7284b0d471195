/**
 * The bucket and its trigger rules. imgfn only ever rewrites notification rules whose Id starts
 * with its own prefix; every other rule (Lambda, SQS, SNS, EventBridge) is written back as read.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketTaggingCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
  type LambdaFunctionConfiguration,
  type NotificationConfiguration,
  type S3Client,
} from "@aws-sdk/client-s3";
import { CREATED_BUCKET_TAG, triggerFilters } from "../config.js";
import { UserError } from "../errors.js";
import { hasName, httpStatus, tolerating } from "./errors.js";
import { type Outcome, outcome } from "./outcome.js";
import { realSleep, type Waiter } from "./retry.js";

export interface BucketState {
  exists: boolean;
  region?: string;
  tags: Record<string, string>;
  createdByImgfn: boolean;
}

function regionOf(err: unknown): string | undefined {
  const headers = (err as any)?.$response?.headers ?? {};
  return headers["x-amz-bucket-region"] ?? (err as any)?.BucketRegion ?? (err as any)?.Region;
}

/** HeadBucket, with the two traps explained: someone else's bucket, or one in another region. */
export async function inspectBucket(s3: S3Client, bucket: string, region: string): Promise<BucketState> {
  try {
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    if (head.BucketRegion && head.BucketRegion !== region) throw wrongRegion(bucket, head.BucketRegion, region);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const status = httpStatus(err);
    if (status === 404 || hasName(err, "NotFound", "NoSuchBucket")) return { exists: false, tags: {}, createdByImgfn: false };
    if (status === 301 || hasName(err, "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException")) {
      throw wrongRegion(bucket, regionOf(err), region, err);
    }
    if (status === 403 || hasName(err, "Forbidden", "AccessDenied")) {
      throw new UserError(`bucket ${bucket} exists but belongs to another AWS account (or you may not read it)`, {
        hint: `bucket names are global: set another "bucket" in imgfn.config.json, or remove it to let imgfn name one`,
        cause: err,
      });
    }
    throw err;
  }
  const tags = await bucketTags(s3, bucket);
  return { exists: true, region, tags, createdByImgfn: tags[CREATED_BUCKET_TAG] === "true" };
}

function wrongRegion(bucket: string, actual: string | undefined, wanted: string, cause?: unknown): UserError {
  return new UserError(`bucket ${bucket} is in region ${actual ?? "another region"}, not ${wanted}`, {
    hint: actual ? `deploy to its region with --region ${actual} (or "region" in imgfn.config.json), or choose another bucket` : "choose another bucket or region",
    cause,
  });
}

export async function bucketTags(s3: S3Client, bucket: string): Promise<Record<string, string>> {
  try {
    const res = await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
    return Object.fromEntries((res.TagSet ?? []).map((t) => [t.Key!, t.Value ?? ""]));
  } catch (err) {
    if (hasName(err, "NoSuchTagSet", "NoSuchTagSetError") || httpStatus(err) === 404) return {};
    throw err;
  }
}

export interface BucketRequest {
  bucket: string;
  region: string;
  tags: Record<string, string>;
}

/** Uses an existing bucket of ours, or creates one: region constraint, public access blocked, tagged. */
export async function ensureBucket(s3: S3Client, req: BucketRequest, opts: { dryRun?: boolean } = {}): Promise<Outcome & { state: BucketState }> {
  const state = await inspectBucket(s3, req.bucket, req.region);
  if (state.exists) return { ...outcome("unchanged", state.createdByImgfn ? [] : ["existing bucket, not created by imgfn"]), state };
  const changes = ["public access blocked", "tagged"];
  if (opts.dryRun) return { ...outcome("create", changes), state };
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: req.bucket,
        // us-east-1 is the one region that refuses an explicit LocationConstraint
        ...(req.region === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: req.region as BucketLocationConstraint } }),
      }),
    );
  } catch (err) {
    if (hasName(err, "BucketAlreadyExists")) {
      throw new UserError(`the bucket name ${req.bucket} is taken by another AWS account`, { hint: `set another "bucket" in imgfn.config.json`, cause: err });
    }
    // it appeared between the check and the create (another deploy, or its owner): someone
    // else's bucket in this account, so neither marked as created by imgfn nor reconfigured
    if (hasName(err, "BucketAlreadyOwnedByYou")) return { ...outcome("unchanged", ["existing bucket, not created by imgfn"]), state: await inspectBucket(s3, req.bucket, req.region) };
    throw err;
  }
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: req.bucket,
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    }),
  );
  const tags = { ...req.tags, [CREATED_BUCKET_TAG]: "true" };
  await s3.send(new PutBucketTaggingCommand({ Bucket: req.bucket, Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }));
  return { ...outcome("create", changes), state: { exists: true, region: req.region, tags, createdByImgfn: true } };
}

// ---------------------------------------------------------------------------------------------
// Trigger rules

export interface TriggerRequest {
  bucket: string;
  /** Ids starting with this are imgfn's; nothing else is touched. */
  idPrefix: string;
  functionArn: string;
  prefix: string;
  suffixes: string[];
}

/** A rule of any destination type, flattened for comparison. */
export interface RuleView {
  id: string;
  destination: string;
  kind: "lambda" | "queue" | "topic";
  events: string[];
  prefix: string;
  suffix: string;
}

type AnyRule = { Id?: string; Events?: string[]; Filter?: { Key?: { FilterRules?: { Name?: string; Value?: string }[] } } };

function filterValue(rule: AnyRule, name: "prefix" | "suffix"): string {
  return rule.Filter?.Key?.FilterRules?.find((r) => r.Name?.toLowerCase() === name)?.Value ?? "";
}

export function ruleViews(config: NotificationConfiguration): RuleView[] {
  const view = (kind: RuleView["kind"], rule: AnyRule, destination: string | undefined): RuleView => ({
    id: rule.Id ?? "",
    kind,
    destination: destination ?? "",
    events: [...(rule.Events ?? [])].sort(),
    prefix: filterValue(rule, "prefix"),
    suffix: filterValue(rule, "suffix"),
  });
  return [
    ...(config.LambdaFunctionConfigurations ?? []).map((r) => view("lambda", r, r.LambdaFunctionArn)),
    ...(config.QueueConfigurations ?? []).map((r) => view("queue", r, r.QueueArn)),
    ...(config.TopicConfigurations ?? []).map((r) => view("topic", r, r.TopicArn)),
  ];
}

/** One rule per suffix (S3 filters take one prefix and one suffix), or one rule for every key. */
export function desiredRules(req: TriggerRequest): LambdaFunctionConfiguration[] {
  return triggerFilters(req.idPrefix, req.prefix, req.suffixes).map(({ id, prefix, suffix }) => {
    const FilterRules = [{ Name: "prefix" as const, Value: prefix }, ...(suffix ? [{ Name: "suffix" as const, Value: suffix }] : [])].filter((r) => r.Value !== "");
    return {
      Id: id,
      LambdaFunctionArn: req.functionArn,
      Events: ["s3:ObjectCreated:*"],
      ...(FilterRules.length ? { Filter: { Key: { FilterRules } } } : {}),
    };
  });
}

function eventsOverlap(a: string, b: string): boolean {
  const covers = (wide: string, narrow: string) => wide.endsWith("*") && narrow.startsWith(wide.slice(0, -1));
  return a === b || covers(a, b) || covers(b, a);
}

/** S3 refuses two rules that share an event type with overlapping prefixes and suffixes. */
export function rulesOverlap(a: RuleView, b: RuleView): boolean {
  const events = a.events.some((x) => b.events.some((y) => eventsOverlap(x, y)));
  const prefixes = a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
  const suffixes = a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix);
  return events && prefixes && suffixes;
}

const describeFilter = (r: RuleView) => `prefix "${r.prefix}"${r.suffix ? ` suffix "${r.suffix}"` : " (any suffix)"}`;

/** Explains each overlap between imgfn's rules and everyone else's, or returns []. */
export function findOverlaps(ours: RuleView[], foreign: RuleView[]): string[] {
  const problems: string[] = [];
  for (const mine of ours) {
    for (const other of foreign) {
      if (!rulesOverlap(mine, other)) continue;
      problems.push(
        `rule "${other.id || "(no id)"}" (${other.kind} ${other.destination}) already receives ${other.events.join(", ")} for ${describeFilter(other)}, which overlaps imgfn's ${describeFilter(mine)}`,
      );
    }
  }
  return problems;
}

/** The function a Lambda ARN names ("arn:aws:lambda:r:a:function:NAME[:qualifier]"). */
export const functionNameOf = (arn: string | undefined) => (arn ?? "").split(":")[6] ?? "";

/**
 * imgfn's own rules: the Id starts with imgfn-<app>- and the rule invokes imgfn-<app>. The Id
 * alone is not enough: app "demo-2" (imgfn-demo-2-jpg) shares app "demo"'s prefix imgfn-demo-.
 */
export function isOwnRule(rule: { id: string; kind: RuleView["kind"]; destination: string }, idPrefix: string, functionName: string): boolean {
  return rule.kind === "lambda" && rule.id.startsWith(idPrefix) && functionNameOf(rule.destination) === functionName;
}

const ownLambdaRule = (idPrefix: string, functionName: string) => (r: LambdaFunctionConfiguration) =>
  isOwnRule({ id: r.Id ?? "", kind: "lambda", destination: r.LambdaFunctionArn ?? "" }, idPrefix, functionName);

export async function getNotifications(s3: S3Client, bucket: string): Promise<NotificationConfiguration> {
  try {
    const { $metadata: _, ...config } = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
    return config;
  } catch (err) {
    if (hasName(err, "NoSuchBucket")) return {};
    throw err;
  }
}

/** The same rules (Id, destination, events, filters), in any order. */
export const sameRules = (a: RuleView[], b: RuleView[]) => {
  const key = (r: RuleView) => JSON.stringify([r.id, r.destination, r.events, r.prefix, r.suffix]);
  return JSON.stringify(a.map(key).sort()) === JSON.stringify(b.map(key).sort());
};

/**
 * How long a writer waits before reading its notification configuration back. Another writer that
 * read before our write saves within its own read→write latency (well under a second), so reads
 * 1–2 s apart see it.
 */
export const SETTLE_MS = 1000;
const MERGE_ROUNDS = 6;

/**
 * Read-modify-write of the notification configuration, keeping every foreign rule. S3 has no
 * conditional write here, so two apps deploying to one bucket at once could each write what they
 * read and drop the other's rules: after writing, read it back (twice, a moment apart) and merge
 * again whenever another writer got in between.
 */
export async function ensureTrigger(s3: S3Client, req: TriggerRequest, opts: { dryRun?: boolean; waiter?: Waiter } = {}): Promise<Outcome & { rules: LambdaFunctionConfiguration[]; foreign: number }> {
  const current = await getNotifications(s3, req.bucket);
  const functionName = functionNameOf(req.functionArn);
  const isOurs = (r: RuleView) => isOwnRule(r, req.idPrefix, functionName);
  const rules = desiredRules(req);
  const desired = ruleViews({ LambdaFunctionConfigurations: rules });
  const existing = ruleViews(current).filter(isOurs);
  const foreign = ruleViews(current).filter((r) => !isOurs(r));
  const overlaps = [...findOverlaps(desired, foreign), ...selfOverlaps(desired)];
  if (overlaps.length) {
    throw new UserError(`the trigger for s3://${req.bucket}/${req.prefix} would overlap existing notification rules: ${overlaps.join("; ")}. S3 refuses overlapping rules for one event type`, {
      hint: `use a different "inputPrefix" in imgfn.config.json, or narrow the other rule's prefix/suffix`,
    });
  }
  const kept = foreign.length ? [`${foreign.length} other rule${foreign.length > 1 ? "s" : ""} kept`] : [];
  if (sameRules(existing, desired)) return { ...outcome("unchanged", kept), rules, foreign: foreign.length };
  const action = existing.length ? "update" : "create";
  const changes = [`${rules.length} rule${rules.length > 1 ? "s" : ""} for s3://${req.bucket}/${req.prefix}*${req.suffixes.length ? ` (${req.suffixes.join(" ")})` : ""}`, ...kept];
  if (opts.dryRun) return { ...outcome(action, changes), rules, foreign: foreign.length };
  const merged = (config: NotificationConfiguration): NotificationConfiguration => ({
    ...config,
    LambdaFunctionConfigurations: [...(config.LambdaFunctionConfigurations ?? []).filter((r) => !ownLambdaRule(req.idPrefix, functionName)(r)), ...rules],
  });
  await putNotifications(s3, req.bucket, merged(current));
  const { rewrites, current: after } = await settle(s3, req.bucket, { holds: (c) => sameRules(ruleViews(c).filter(isOurs), desired), rewrite: merged }, opts.waiter);
  if (rewrites) changes.push(`merged again ${rewrites} time${rewrites > 1 ? "s" : ""} after another writer`);
  return { ...outcome(action, changes), rules, foreign: ruleViews(after).filter((r) => !isOurs(r)).length };
}

/**
 * After a write: read the configuration back twice, a moment apart, and write again (rebuilt from
 * what is there now) whenever `holds` fails, i.e. another writer saved what it had read before.
 */
async function settle(
  s3: S3Client,
  bucket: string,
  goal: { holds: (c: NotificationConfiguration) => boolean; rewrite: (c: NotificationConfiguration) => NotificationConfiguration; skipDestinationValidation?: boolean },
  waiter?: Waiter,
): Promise<{ rewrites: number; current: NotificationConfiguration }> {
  const sleep = waiter?.sleep ?? realSleep;
  let confirmations = 0;
  let rewrites = 0;
  let current: NotificationConfiguration = {};
  for (let round = 0; confirmations < 2; round++) {
    if (round >= MERGE_ROUNDS) {
      throw new UserError(`the notification configuration of ${bucket} keeps changing under imgfn's writes (another deploy or teardown on this bucket?); imgfn's rules are not settled`, {
        hint: "run the command again once the other one has finished",
      });
    }
    await sleep(SETTLE_MS + Math.floor(Math.random() * SETTLE_MS), waiter?.signal);
    current = await getNotifications(s3, bucket);
    if (goal.holds(current)) {
      confirmations++;
      continue;
    }
    confirmations = 0;
    rewrites++;
    waiter?.onWait?.(`another writer changed the notification configuration of ${bucket}; merging again`);
    await putNotifications(s3, bucket, goal.rewrite(current), { skipDestinationValidation: goal.skipDestinationValidation });
  }
  return { rewrites, current };
}

function selfOverlaps(rules: RuleView[]): string[] {
  const problems: string[] = [];
  rules.forEach((a, i) =>
    rules.slice(i + 1).forEach((b) => {
      if (rulesOverlap(a, b)) problems.push(`the configured suffixes "${a.suffix}" and "${b.suffix}" overlap each other`);
    }),
  );
  return problems;
}

async function putNotifications(s3: S3Client, bucket: string, config: NotificationConfiguration, opts: { skipDestinationValidation?: boolean } = {}): Promise<void> {
  const clean: NotificationConfiguration = {};
  if (config.TopicConfigurations?.length) clean.TopicConfigurations = config.TopicConfigurations;
  if (config.QueueConfigurations?.length) clean.QueueConfigurations = config.QueueConfigurations;
  if (config.LambdaFunctionConfigurations?.length) clean.LambdaFunctionConfigurations = config.LambdaFunctionConfigurations;
  if (config.EventBridgeConfiguration) clean.EventBridgeConfiguration = config.EventBridgeConfiguration;
  try {
    await s3.send(
      new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: clean, ...(opts.skipDestinationValidation ? { SkipDestinationValidation: true } : {}) }),
    );
  } catch (err) {
    if (hasName(err, "InvalidArgument") && /overlap/i.test((err as Error).message)) {
      throw new UserError(`S3 refused the trigger for ${bucket}: it overlaps another notification rule (${(err as Error).message})`, {
        hint: `use a different "inputPrefix", or narrow the other rule's prefix/suffix`,
        cause: err,
      });
    }
    throw err;
  }
}

/** Removes imgfn's rules only (those of `functionName` under `idPrefix`). */
export async function removeTrigger(s3: S3Client, bucket: string, idPrefix: string, functionName: string, opts: { dryRun?: boolean; waiter?: Waiter } = {}): Promise<Outcome> {
  const current = await getNotifications(s3, bucket);
  const own = ownLambdaRule(idPrefix, functionName);
  const ours = (current.LambdaFunctionConfigurations ?? []).filter(own);
  if (!ours.length) return outcome("absent");
  const foreign = ruleViews(current).length - ours.length;
  if (!opts.dryRun) {
    const without = (c: NotificationConfiguration) => ({ ...c, LambdaFunctionConfigurations: (c.LambdaFunctionConfigurations ?? []).filter((r) => !own(r)) });
    // only removing: S3 need not re-validate the destinations of the rules that stay (a foreign
    // rule whose function was deleted would otherwise block the teardown)
    await putNotifications(s3, bucket, without(current), { skipDestinationValidation: true });
    // a writer that read before this removal must not bring imgfn's rules back
    await settle(s3, bucket, { holds: (c) => !(c.LambdaFunctionConfigurations ?? []).some(own), rewrite: without, skipDestinationValidation: true }, opts.waiter);
  }
  return outcome("delete", [`${ours.length} rule${ours.length > 1 ? "s" : ""}`, ...(foreign ? [`${foreign} other rule${foreign > 1 ? "s" : ""} kept`] : [])]);
}

/** Object versions (and delete markers) in the bucket, up to `limit`. */
export async function countObjects(s3: S3Client, bucket: string, limit = 1000): Promise<{ count: number; more: boolean }> {
  const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: limit }));
  const count = (res.Versions?.length ?? 0) + (res.DeleteMarkers?.length ?? 0);
  return { count, more: Boolean(res.IsTruncated) };
}

/** Deletes every object version, then the bucket. The caller has made sure this is wanted. */
export async function deleteBucket(s3: S3Client, bucket: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1000 }));
    const objects = [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
    if (!objects.length) break;
    const res2 = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    // DeleteObjects answers 200 with per-key errors (object lock, a denied key): listing again
    // would return the same objects for ever
    const errors = res2.Errors ?? [];
    if (errors.length) {
      const first = errors[0];
      throw new UserError(`could not delete ${errors.length} object${errors.length > 1 ? "s" : ""} from bucket ${bucket} (${first.Key}: ${first.Code ?? "error"}${first.Message ? ` ${first.Message}` : ""}); the bucket was kept`, {
        hint: `remove them yourself (aws s3 rm s3://${bucket} --recursive), then run the teardown again`,
      });
    }
    deleted += objects.length;
  }
  await tolerating(s3.send(new DeleteBucketCommand({ Bucket: bucket })), "NoSuchBucket");
  return deleted;
}

