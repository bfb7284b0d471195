/**
 * imgfn invoke: one synchronous invocation with an S3 event, against the running `imgfn dev`
 * (--local, through its RIE invoke URL) or the deployed function (Lambda Invoke with
 * LogType Tail). Prints what a user wants to see: each record's predictions (read back from the
 * result objects), the REPORT line and the request id.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type Config, loadConfig, resourceNames } from "../config.js";
import { ConfigError, InputNotFound, UserError } from "../errors.js";
import { s3Event } from "../local/events.js";
import { INVOKE_PATH } from "../local/rie.js";
import { requireDevState } from "../local/target.js";
import { resolveTarget } from "../target.js";
import { parseReport, type ReportLine } from "../ui/logs.js";
import { type Output, formatMs } from "../ui/output.js";
import { defineCommand } from "./command.js";

interface RecordResult {
  key: string;
  status: string;
  outputKey?: string;
  reason?: string;
}

interface Invocation {
  requestId?: string;
  /** The handler's return value, or Lambda's error shape when `failed`. */
  payload: any;
  failed: boolean;
  /** The invocation's log lines (AWS: the 4 KB tail Lambda returns). */
  log?: string;
  report?: ReportLine;
}

export const invokeCommand = defineCommand({
  examples: ["invoke --local --key uploads/cat.jpg", "invoke --key uploads/cat.jpg", "event s3 --key uploads/cat.jpg > event.json && imgfn invoke --event event.json", "invoke --local --event event.json --json"],
  options: (cmd) => {
    cmd.option("--local", "invoke the function of the running `imgfn dev` stack (default: the deployed function)", false);
    cmd.option("--event <file>", "the event JSON to send (`imgfn event s3` writes one; - reads stdin)");
    cmd.option("--key <key>", "send an S3 ObjectCreated:Put event for this key in the bucket (encoded as S3 does)");
  },
  async run(ctx, opts) {
    if (Boolean(opts.event) === Boolean(opts.key)) throw new ConfigError("give exactly one of --event <file.json> or --key <key>", { hint: 'e.g. imgfn invoke --local --key uploads/cat.jpg, or imgfn event s3 --key uploads/cat.jpg > event.json' });
    // the event file first: a local mistake needs neither a running stack nor credentials
    const fromFile = opts.event ? await readEvent(ctx.cwd, opts.event) : undefined;
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    if (opts.local) requireDevState(ctx.cwd);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const event = fromFile ?? (await keyEvent(ctx.out, target.s3, target.bucket, String(opts.key), opts.local ? requireDevState(ctx.cwd).region : (ctx.globals.region ?? config.region ?? "us-east-1")));
    const inv = opts.local ? await invokeLocal(ctx.cwd, event, ctx.signal) : await invokeDeployed(ctx, config, event);
    inv.report ??= opts.local ? await localReport(target, inv.requestId) : undefined;
    if (inv.failed) {
      const e = inv.payload ?? {};
      throw new UserError(`the function failed (request ${inv.requestId}): ${e.errorType}: ${e.errorMessage}`, {
        code: "FUNCTION_ERROR",
        hint: `see ${ctx.out.cmd(`logs${opts.local ? " --local" : ""} --filter ${inv.requestId}`)} for its output and stack`,
      });
    }
    const records: RecordResult[] = Array.isArray(inv.payload?.results) ? inv.payload.results : [];
    // results are written in the bucket the event names
    const bucket: string = (event as any)?.Records?.[0]?.s3?.bucket?.name ?? target.bucket;
    const results = await Promise.all(records.map(async (r) => ({ ...r, result: r.outputKey ? await readResult(target.s3, bucket, r.outputKey) : undefined })));
    ctx.out.result({ requestId: inv.requestId, result: inv.payload, records: results, report: inv.report ?? null });
    printInvocation(ctx.out, inv, results);
  },
});

async function readEvent(cwd: string, file: string): Promise<unknown> {
  const text = file === "-" ? await readStdin() : await readFile(resolve(cwd, file), "utf8").catch((err) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new InputNotFound(`no such event file: ${file}`, { hint: "write one with: imgfn event s3 --key uploads/cat.jpg > event.json" });
    throw new UserError(`cannot read event file ${file}: ${code ?? err}`);
  });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file === "-" ? "stdin" : file}: not valid JSON (${(err as Error).message})`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** An S3 event for a key in the target's bucket, with the object's real size and ETag when it exists. */
async function keyEvent(out: Output, s3: S3Client, bucket: string, key: string, region: string): Promise<unknown> {
  let size = 0;
  let eTag: string | undefined;
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    size = head.ContentLength ?? 0;
    eTag = head.ETag?.replace(/"/g, "");
  } catch (err) {
    if ((err as any)?.$metadata?.httpStatusCode !== 404 && (err as Error).name !== "NotFound") throw err;
    out.warn(`s3://${bucket}/${key} does not exist; the function will find no object`);
  }
  return s3Event({ bucket, key, size, eTag, kind: "Put" }, { region });
}

async function invokeLocal(cwd: string, event: unknown, signal: AbortSignal): Promise<Invocation> {
  const state = requireDevState(cwd);
  const url = state.invokeEndpoint + INVOKE_PATH;
  const res = await fetch(url, { method: "POST", body: JSON.stringify(event), signal }).catch((err) => {
    throw new UserError(`cannot reach the local invoke endpoint ${url}: ${(err as Error).cause ?? err}`, { hint: "is `imgfn dev` still running?" });
  });
  const text = await res.text();
  if (!res.ok) throw new UserError(`the invoke endpoint answered ${res.status}: ${text}`);
  return { requestId: res.headers.get("x-amzn-requestid") ?? undefined, payload: parseJson(text), failed: Boolean(res.headers.get("x-amz-function-error")) };
}

async function invokeDeployed(ctx: import("./command.js").Context, config: Config, event: unknown): Promise<Invocation> {
  const { createClients } = await import("../aws/clients.js");
  const { withAwsErrors } = await import("../aws/errors.js");
  const { InvokeCommand } = await import("@aws-sdk/client-lambda");
  const functionName = resourceNames(config).functionName;
  return withAwsErrors(async () => {
    const clients = await createClients(ctx.globals, config, { env: ctx.env });
    const res = await clients.lambda
      .send(new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", LogType: "Tail", Payload: new TextEncoder().encode(JSON.stringify(event)) }), { abortSignal: ctx.signal })
      .catch((err) => {
        if ((err as Error).name !== "ResourceNotFoundException") throw err;
        throw new UserError(`function ${functionName} does not exist in ${clients.region}`, { cause: err, hint: `run "imgfn deploy" first, or add --local to invoke the function of imgfn dev` });
      });
    const log = res.LogResult ? Buffer.from(res.LogResult, "base64").toString("utf8") : undefined;
    const reportLine = log?.split("\n").find((l) => l.startsWith("REPORT RequestId:"));
    return {
      requestId: res.$metadata.requestId ?? reportLine?.match(/RequestId: (\S+)/)?.[1],
      payload: parseJson(res.Payload ? new TextDecoder().decode(res.Payload) : ""),
      failed: Boolean(res.FunctionError),
      log,
      report: reportLine ? parseReport(reportLine) : undefined,
    };
  }, ctx.globals);
}

function parseJson(text: string): any {
  try {
    return text === "" ? null : JSON.parse(text);
  } catch {
    return text;
  }
}

/** The REPORT line the emulator wrote for this request (it lands just after the response). */
async function localReport(target: Awaited<ReturnType<typeof resolveTarget>>, requestId: string | undefined): Promise<ReportLine | undefined> {
  if (!requestId) return undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    for await (const e of target.logs.events({ filter: `REPORT RequestId: ${requestId}` })) {
      const r = parseReport(e.message);
      if (r) return r;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

async function readResult(s3: S3Client, bucket: string, key: string): Promise<any> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await res.Body!.transformToString());
  } catch {
    return undefined; // the record's status still says what happened
  }
}

function printInvocation(out: Output, inv: Invocation, records: (RecordResult & { result?: any })[]): void {
  const { c } = out;
  if (records.length === 0) out.print(c.dim(`no records processed; the function returned ${JSON.stringify(inv.payload)}`));
  for (const r of records) {
    const where = r.outputKey ? ` → ${r.outputKey}` : "";
    out.print(`${c.bold(r.key)}  ${r.status}${where}${r.reason ? c.dim(` (${r.reason})`) : ""}`);
    const predictions: { label: string; score: number }[] = r.result?.predictions ?? [];
    if (predictions.length) out.print(out.table(predictions.map((p, i) => [`${i + 1}.`, `${(p.score * 100).toFixed(1)}%`, p.label]), { indent: 2, right: [0, 1], shrink: [2] }));
    else if (r.result?.error) out.print(`  ${c.red(r.result.error.code)}: ${r.result.error.message}`);
  }
  const rep = inv.report;
  if (rep) {
    out.print(
      c.dim(`REPORT ${rep.requestId}  duration ${formatMs(rep.duration)} (billed ${rep.billedDuration} ms), memory ${rep.maxMemoryUsed}/${rep.memorySize} MB${rep.initDuration !== undefined ? `, init ${formatMs(rep.initDuration)} (cold start)` : ""}`),
    );
  } else if (inv.requestId) out.print(c.dim(`request ${inv.requestId}`));
}
