import { InvalidArgumentError } from "commander";
import { mkdir } from "node:fs/promises";
import { relative, sep } from "node:path";
import { samplePath } from "../paths.js";
import { loadConfig, type Config, type ConfigInput } from "../config.js";
import { UserError } from "../errors.js";
import { INVOKE_PATH } from "../local/rie.js";
import { catchUpStack } from "../local/catch-up.js";
import { startDevPage } from "../local/page/server.js";
import { LOCAL_CREDENTIALS } from "../local/s3.js";
import { startLocalStack, type LocalStack } from "../local/stack.js";
import { type DevState, devStateFor, devStatePath, localDir, readDevState, removeDevState, writeDevState } from "../local/state.js";
import { renderLogEvent } from "../ui/logs.js";
import type { Context } from "./command.js";
import { defineCommand } from "./command.js";
import { loadModelStep, modelOptions } from "./model-options.js";
import { parsePositive } from "./predict.js";

export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  // commander's InvalidArgumentError: a usage error (exit code 2), not a crash asking for --debug
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${flag} must be a port number from 0 (any free port) to 65535, got "${value}"`);
  return n;
}

function parseDelays(value: string): number[] {
  const parts = value.split(",").map((s) => Number(s.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isFinite(n) || n < 0)) throw new InvalidArgumentError(`--retry-delays must be milliseconds like 60000,120000 (got "${value}")`);
  return parts;
}

/** Config + model (with progress) + staged function + running stack: what dev and demo share. */
export async function startStackForCommand(
  ctx: Context,
  opts: Record<string, any>,
  root: string,
  extra: { overrides?: ConfigInput; s3Port?: number; invokePort?: number; retryDelays?: number[] } = {},
): Promise<{ config: Config; stack: LocalStack }> {
  const config = loadConfig(ctx.cwd, { region: ctx.globals.region, concurrency: opts.concurrency, ...extra.overrides }, ctx.globals.config);
  const spec = await loadModelStep(ctx, opts, { model: config.model, labels: config.labels });
  ctx.signal.throwIfAborted();
  const stack = await ctx.out.step("Starting local S3 and the Lambda emulator", async (s) => {
    const st = await startLocalStack({ config, spec, root, s3Port: extra.s3Port, invokePort: extra.invokePort, retryDelays: extra.retryDelays });
    s.done(`${st.functionName}, ${config.memory} MB, ${config.timeout} s timeout, ${config.concurrency} worker${config.concurrency > 1 ? "s" : ""}`);
    return st;
  });
  return { config, stack };
}

/** True when something answers HTTP at the endpoint (any status). */
async function answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { method: "HEAD", signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

/** The sample cat as a path that works from the user's folder. */
function sampleForHint(cwd: string): string {
  const rel = relative(cwd, samplePath("cat.jpg"));
  return rel.startsWith("..") && rel.split(sep).filter((p) => p === "..").length > 2 ? samplePath("cat.jpg") : rel;
}

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export const devCommand = defineCommand({
  examples: ["dev", "dev --s3-port 4566 --invoke-port 9000", "dev --concurrency 4 --retry-delays 1000,2000", "dev --json"],
  globals: ["json", "region", "config"],
  options: (cmd) => {
    cmd.option("--s3-port <port>", "port for the local S3 endpoint (0: any free port)", (v) => parsePort(v, "--s3-port"), 0);
    cmd.option("--invoke-port <port>", "port for the Lambda invoke URL (0: any free port)", (v) => parsePort(v, "--invoke-port"), 0);
    cmd.option("--page-port <port>", "port for the live page (0: any free port)", (v) => parsePort(v, "--page-port"), 0);
    cmd.option("--concurrency <n>", "function workers (default: config concurrency, 2)", (v) => parsePositive(v, "--concurrency"));
    cmd.option("--retry-delays <ms,ms>", "delays before the retries of a failed event (Lambda: 60000,120000)", parseDelays);
    modelOptions(cmd);
    cmd.addHelpText("after", "\n--json: a first line {\"status\":\"running\", endpoints…}, then one log event per line (NDJSON) until Ctrl-C.");
  },
  async run(ctx, opts) {
    let running = readDevState(ctx.cwd);
    // The recorded pid may have been reused by another program after a crash: a stack that does
    // not answer on its endpoint is a stale record, not a running dev.
    if (running && !(await answers(running.s3Endpoint))) {
      ctx.out.info(`ignoring a stale ${devStatePath(ctx.cwd)} (pid ${running.pid} does not serve ${running.s3Endpoint})`);
      running = undefined;
    }
    if (running) {
      throw new UserError(`imgfn dev is already running for this project (pid ${running.pid}, S3 at ${running.s3Endpoint})`, {
        hint: `use it from here with "${ctx.out.cmd("upload --local <files>")}", or stop it (Ctrl-C in its terminal, or kill ${running.pid})`,
      });
    }
    const root = localDir(ctx.cwd);
    await mkdir(root, { recursive: true });
    const { config, stack } = await startStackForCommand(ctx, opts, root, { s3Port: opts.s3Port, invokePort: opts.invokePort, retryDelays: opts.retryDelays });
    // before the endpoints are announced, so no new upload races the scan
    // A failed scan must not keep dev from starting: say so, and run without the catch-up.
    const catchUp = await catchUpStack(stack, config, ctx.signal).catch((err) => {
      ctx.out.warn(`could not look for uploads left without a result (${(err as Error).message}); run "imgfn backfill --local" once it is fixed`);
      return { listed: 0, current: 0, pending: [], keptAsFailed: 0 };
    });
    const page = await startDevPage(stack, config, opts.pagePort).catch(async (err) => {
      await stack.close();
      throw err;
    });
    const state: DevState = { ...devStateFor(stack, config), dashboardUrl: page.url };
    // If this process dies without the clean-up below, the workers go with it (they exit when
    // their IPC channel closes) and the stale dev.json is ignored (its pid is dead).
    const onExit = () => removeDevState(ctx.cwd);
    process.once("exit", onExit);
    const save = () => {
      state.workerPids = stack.emulator.pids();
      writeDevState(ctx.cwd, state);
    };
    const { out } = ctx;
    const c = out.c;
    const unsubscribe = stack.logs.subscribe((event) => {
      if (out.json) out.stdout.write(JSON.stringify(event) + "\n");
      else out.print(renderLogEvent(event, c));
    });
    try {
      save();
      stack.emulator.on("spawn", save);
      stack.emulator.on("exit", save);
      stack.emulator.on("retry", (r: any) => out.warn(`request ${r.requestId} failed (${r.error.errorType}: ${r.error.errorMessage}); retry ${r.attempt} in ${Math.round(r.delay / 1000)} s`));
      stack.emulator.on("failed", (f: any) => {
        const key = f.event?.Records?.[0]?.s3?.object?.key;
        out.error(`event${key ? ` for ${key}` : ""} failed after ${f.attempts} attempt${f.attempts > 1 ? "s" : ""}: ${f.error.errorType}: ${f.error.errorMessage}; kept in the failed store ("imgfn failed --local", "imgfn retry --local")`);
      });
      if (out.json) {
        const caught = { listed: catchUp.listed, pending: catchUp.pending.length, keptAsFailed: catchUp.keptAsFailed };
        out.stdout.write(JSON.stringify({ status: "running", ...state, stateFile: devStatePath(ctx.cwd), catchUp: caught }) + "\n");
      } else {
        const upload = `${config.inputPrefix}cat.jpg`;
        const sample = shellQuote(sampleForHint(ctx.cwd));
        out.print("");
        out.print(`  ${c.bold("S3 endpoint")}    ${stack.s3Endpoint}   bucket ${c.bold(stack.bucket)}   (access key ${LOCAL_CREDENTIALS.accessKeyId} / secret ${LOCAL_CREDENTIALS.secretAccessKey})`);
        out.print(`  ${c.bold("trigger")}        s3://${stack.bucket}/${config.inputPrefix}*{${config.suffixes.join(",")}} → ${stack.functionName} → s3://${stack.bucket}/${config.outputPrefix}`);
        out.print(`  ${c.bold("invoke URL")}     ${stack.invokeEndpoint}${INVOKE_PATH}`);
        out.print(`  ${c.bold("logs")}           ${stack.logsDir}`);
        out.print(`  ${c.bold("live page")}      ${page.url}   (drop images there; results and logs appear as they are written)`);
        out.print("");
        out.print(`  try:  ${out.cmd(`upload --local ${sample}`)}`);
        out.print(`        AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} aws --endpoint-url ${stack.s3Endpoint} --region ${stack.region} s3 cp ${sample} s3://${stack.bucket}/${upload}`);
        out.print(`        ${out.cmd(`invoke --local --key ${upload}`)}`);
        out.print(`        ${out.cmd(`event s3 --key ${upload} --bucket ${stack.bucket}`)} | curl -s -XPOST ${stack.invokeEndpoint}${INVOKE_PATH} -d @-`);
        out.print("");
        if (catchUp.pending.length > 0) {
          out.info(`catching up: ${catchUp.pending.length} object${catchUp.pending.length > 1 ? "s" : ""} under ${config.inputPrefix} had no current result (events left queued or running when dev last stopped); processing them`);
        }
        if (catchUp.keptAsFailed > 0) out.info(`${catchUp.keptAsFailed} object${catchUp.keptAsFailed > 1 ? "s are" : " is"} in the failed store: see "imgfn failed --local", replay with "imgfn retry --local --all"`);
        out.info(c.dim("streaming function logs; Ctrl-C stops everything"));
      }
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      out.info("stopping the local stack…");
    } finally {
      unsubscribe();
      await page.close();
      stack.emulator.removeAllListeners("spawn").removeAllListeners("exit");
      await stack.close();
      removeDevState(ctx.cwd);
      process.off("exit", onExit);
    }
    out.info("stopped; no local processes left running");
  },
});
