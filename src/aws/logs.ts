/**
 * CloudWatch Logs: the function's log group (created by deploy with a retention, because the
 * role may not create log groups), and a LogSource that polls FilterLogEvents the way SAM's
 * log puller does: follow nextToken, back off when idle or throttled, and treat a missing log
 * group as "not invoked yet".
 */
import {
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  type CloudWatchLogsClient,
  type FilterLogEventsCommandOutput,
  type LogGroup,
} from "@aws-sdk/client-cloudwatch-logs";
import type { LogEvent, LogQuery, LogSource } from "../target.js";
import { parseReport, type ReportLine } from "../ui/logs.js";
import { UserError } from "../errors.js";
import { hasName, tolerating } from "./errors.js";
import { type Outcome, outcome } from "./outcome.js";
import { realSleep, type Sleep } from "./retry.js";

export async function describeLogGroup(logs: CloudWatchLogsClient, name: string): Promise<LogGroup | undefined> {
  const res = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
  return res.logGroups?.find((g) => g.logGroupName === name);
}

export interface LogGroupRequest {
  name: string;
  retentionDays: number;
  tags: Record<string, string>;
}

export async function logGroupTags(logs: CloudWatchLogsClient, group: LogGroup): Promise<Record<string, string>> {
  const arn = (group.logGroupArn ?? group.arn ?? "").replace(/:\*$/, "");
  return (await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? {};
}

const carries = (tags: Record<string, string>, own: Record<string, string>) => Object.entries(own).every(([k, v]) => tags[k] === v);

export async function ensureLogGroup(logs: CloudWatchLogsClient, req: LogGroupRequest, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const group = await describeLogGroup(logs, req.name);
  if (!group) {
    if (!opts.dryRun) {
      await tolerating(logs.send(new CreateLogGroupCommand({ logGroupName: req.name, tags: req.tags })), "ResourceAlreadyExistsException");
      await logs.send(new PutRetentionPolicyCommand({ logGroupName: req.name, retentionInDays: req.retentionDays }));
    }
    return outcome("create", [`retention ${req.retentionDays} days`]);
  }
  if (!carries(await logGroupTags(logs, group), req.tags)) {
    throw new UserError(`log group ${req.name} exists but is not tagged as imgfn's (another function of that name wrote to it?); imgfn changes only what carries its tags`, {
      hint: `choose another "app" name in imgfn.config.json; or, if imgfn may take it over (teardown then deletes it), tag it: aws logs tag-resource --resource-arn ${(group.logGroupArn ?? group.arn ?? "").replace(/:\*$/, "")} --tags ${Object.entries(req.tags).map(([k, v]) => `${k}=${v}`).join(",")}`,
    });
  }
  if (group.retentionInDays === req.retentionDays) return outcome("unchanged");
  if (!opts.dryRun) await logs.send(new PutRetentionPolicyCommand({ logGroupName: req.name, retentionInDays: req.retentionDays }));
  return outcome("update", [`retention ${group.retentionInDays ?? "never expire"} → ${req.retentionDays} days`]);
}

export async function deleteLogGroup(logs: CloudWatchLogsClient, name: string, ownTags: Record<string, string>, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const group = await describeLogGroup(logs, name);
  if (!group) return outcome("absent");
  if (!carries(await logGroupTags(logs, group), ownTags)) return outcome("skip", ["not tagged as imgfn's; left alone"]);
  if (!opts.dryRun) await tolerating(logs.send(new DeleteLogGroupCommand({ logGroupName: name })), "ResourceNotFoundException");
  return outcome("delete");
}

export interface LogSourceOptions {
  sleep?: Sleep;
  /** Told once when the log group does not exist yet. */
  onNotice?: (message: string) => void;
  /** Poll interval while events keep coming (ms); idle polls back off to maxInterval. */
  minInterval?: number;
  maxInterval?: number;
  /** Without `since`: how far back to start. */
  defaultLookback?: number;
}

const THROTTLED = ["ThrottlingException", "LimitExceededException", "ServiceUnavailableException", "TooManyRequestsException"];

/** A CloudWatch pattern for a plain text term; quotes cannot be escaped, so those filter locally only. */
export function filterPatternFor(text: string | undefined): string | undefined {
  if (!text || text.includes('"')) return undefined;
  return `"${text}"`;
}

export class CloudWatchLogSource implements LogSource {
  constructor(
    private readonly logs: CloudWatchLogsClient,
    readonly logGroupName: string,
    private readonly opts: LogSourceOptions = {},
  ) {}

  /**
   * The cursor stays on the newest timestamp seen, and the eventIds at that millisecond are
   * remembered: events that share it but arrive late are still shown, and none twice.
   */
  async *events(query: LogQuery): AsyncIterable<LogEvent> {
    const sleep = this.opts.sleep ?? realSleep;
    const minInterval = this.opts.minInterval ?? 1000;
    const maxInterval = this.opts.maxInterval ?? 5000;
    let cursor = query.since ?? Date.now() - (this.opts.defaultLookback ?? 10 * 60_000);
    let boundaryIds = new Set<string>();
    let idle = minInterval;
    let toldMissing = false;
    const pattern = filterPatternFor(query.filter);
    const pause = async (ms: number) => {
      try {
        await sleep(ms, query.signal);
        return true;
      } catch {
        return false; // aborted: stop quietly
      }
    };
    for (;;) {
      let nextToken: string | undefined;
      let fresh = 0;
      let missing = false;
      const startTime = cursor;
      for (;;) {
        if (query.signal?.aborted) return;
        let res: FilterLogEventsCommandOutput;
        try {
          res = await this.logs.send(new FilterLogEventsCommand({ logGroupName: this.logGroupName, startTime, filterPattern: pattern, nextToken }), { abortSignal: query.signal });
        } catch (err) {
          if (query.signal?.aborted) return;
          if (hasName(err, "ResourceNotFoundException")) {
            if (!toldMissing) this.opts.onNotice?.(`log group ${this.logGroupName} does not exist yet: the function has not been invoked (or is not deployed)`);
            toldMissing = true;
            missing = true;
            break;
          }
          if (hasName(err, ...THROTTLED)) {
            idle = Math.min(idle * 2, maxInterval * 4);
            if (!(await pause(idle))) return;
            continue; // same page again
          }
          throw err;
        }
        const page = [...(res.events ?? [])].sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
        for (const e of page) {
          const ts = e.timestamp ?? 0;
          if (ts < cursor || (e.eventId && boundaryIds.has(e.eventId))) continue;
          if (query.filter && !(e.message ?? "").includes(query.filter)) continue;
          if (ts > cursor) {
            cursor = ts;
            boundaryIds = new Set();
          }
          if (e.eventId) boundaryIds.add(e.eventId);
          fresh++;
          yield { timestamp: ts, message: e.message ?? "", logStreamName: e.logStreamName, eventId: e.eventId };
        }
        nextToken = res.nextToken;
        if (!nextToken) break;
      }
      if (!query.follow) return;
      idle = fresh ? minInterval : Math.min(idle * 2, maxInterval);
      if (missing) idle = maxInterval;
      if (!(await pause(idle))) return;
    }
  }
}

/** Polls for the REPORT line of one request (CloudWatch delivers logs a few seconds late). */
export async function findReport(logs: CloudWatchLogsClient, logGroupName: string, requestId: string, since: number, opts: { sleep?: Sleep; timeout?: number; signal?: AbortSignal } = {}): Promise<ReportLine | undefined> {
  const sleep = opts.sleep ?? realSleep;
  let waited = 0;
  for (let delay = 1000; ; delay = Math.min(delay * 2, 5000)) {
    try {
      const res = await logs.send(new FilterLogEventsCommand({ logGroupName, startTime: since, filterPattern: `"REPORT RequestId: ${requestId}"` }));
      for (const e of res.events ?? []) {
        const report = parseReport(e.message ?? "");
        if (report?.requestId === requestId) return report;
      }
    } catch (err) {
      if (!hasName(err, "ResourceNotFoundException", ...THROTTLED)) throw err;
    }
    if (waited + delay > (opts.timeout ?? 30_000)) return undefined;
    await sleep(delay, opts.signal);
    waited += delay;
  }
}

export interface InvocationSummary {
  invocations: number;
  errors: number;
  lastInvocation?: number;
  averageDuration?: number;
  coldStarts: number;
  lastError?: string;
  logGroupExists: boolean;
}

/** Invocations (REPORT lines) and errors since `since`, reading at most a few pages. */
export async function summarizeInvocations(logs: CloudWatchLogsClient, logGroupName: string, since: number): Promise<InvocationSummary> {
  const summary: InvocationSummary = { invocations: 0, errors: 0, coldStarts: 0, logGroupExists: true };
  let total = 0;
  try {
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const res = await logs.send(new FilterLogEventsCommand({ logGroupName, startTime: since, filterPattern: "?REPORT ?ERROR", nextToken }));
      for (const e of res.events ?? []) {
        const report = parseReport(e.message ?? "");
        if (report) {
          summary.invocations++;
          total += report.duration;
          if (report.initDuration !== undefined) summary.coldStarts++;
          summary.lastInvocation = Math.max(summary.lastInvocation ?? 0, e.timestamp ?? 0);
        } else if (/\tERROR\t|"level":"error"/.test(e.message ?? "")) {
          summary.errors++;
          summary.lastError = (e.message ?? "").trim().split("\t").slice(3).join(" ").slice(0, 200) || e.message?.trim();
        }
      }
      nextToken = res.nextToken;
    } while (nextToken && ++pages < 5);
  } catch (err) {
    if (!hasName(err, "ResourceNotFoundException")) throw err;
    summary.logGroupExists = false;
  }
  if (summary.invocations) summary.averageDuration = total / summary.invocations;
  return summary;
}
