/**
 * The Lambda emulator: runs a staged function (index.mjs in a task root, the very files that go
 * into the image) in worker processes with Lambda's lifecycle:
 *  - one execution environment per worker process: init once (cold start, "Init Duration"), then
 *    reused warm, one invocation at a time;
 *  - at most `concurrency` environments; events wait in a queue, each runs exactly once per attempt;
 *  - timeout: the environment is killed, "Task timed out after N.00 seconds", the next call is cold;
 *  - memory: V8 heap limit plus an RSS watchdog, "Runtime exited with error: signal: killed";
 *  - asynchronous invocations retried `retries` times with delays, then reported as failed;
 *  - START / END / REPORT lines and the function's console lines in CloudWatch's shape.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../paths.js";
import type { LogEvent } from "../target.js";
// type only: the worker is its own entry point (dist/local/worker.js), never loaded here
import type { LambdaError } from "./worker.js";

export interface EmulatorOptions {
  /** LAMBDA_TASK_ROOT: the staged function. */
  taskRoot: string;
  /** "index.handler" */
  handler?: string;
  functionName: string;
  /** MB */
  memory: number;
  /** seconds */
  timeout: number;
  concurrency: number;
  /** Retries of a failed asynchronous invocation (Lambda: 0..2, default 2). */
  retries: number;
  /** Delay before each retry, ms. Lambda waits about 1 minute, then 2 minutes. */
  retryDelays?: number[];
  region: string;
  /** The function's own environment (configuration, endpoint settings). */
  environment: Record<string, string>;
  /** Where log events go (a LogWriter). */
  log: (event: LogEvent) => void;
  /** The worker runtime script (default: dist/local/worker.js). */
  workerScript?: string;
  /** Billed duration includes init, as for container-image functions (what imgfn deploys). */
  billInit?: boolean;
}

export interface InvocationRecord {
  requestId: string;
  attempt: number;
  status: "success" | "error" | "timeout";
  durationMs: number;
  billedMs: number;
  initDurationMs?: number;
  maxMemoryUsedMb: number;
  result?: unknown;
  error?: LambdaError;
  pid: number;
}

/** What "failed" carries: an asynchronous event after its last attempt. */
export interface FailedInvocation {
  requestId: string;
  event: unknown;
  error: LambdaError;
  attempts: number;
  /** ISO time of the last failure. */
  at: string;
}

export type InvokeOutcome = { ok: true; requestId: string; result: unknown } | { ok: false; requestId: string; error: LambdaError };

export const LAMBDA_RETRY_DELAYS = [60_000, 120_000];
/** Lambda's init phase limit for on-demand functions. */
const INIT_LIMIT_MS = 10_000;

export function workerScriptPath(): string {
  return join(packageRoot(), "dist", "local", "worker.js");
}

interface Job {
  requestId: string;
  event: unknown;
  attempt: number;
  async: boolean;
  resolve: (outcome: InvokeOutcome) => void;
}

const SIGNAL_TEXT: Record<string, string> = {
  SIGKILL: "killed",
  SIGABRT: "aborted (core dumped)",
  SIGSEGV: "segmentation fault (core dumped)",
  SIGTERM: "terminated",
  SIGBUS: "bus error (core dumped)",
};

function lambdaDate(d = new Date()): string {
  return `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${String(d.getUTCDate()).padStart(2, "0")}`;
}

/** A "Name:   1234 kB" field of /proc/<pid>/status, in bytes (NaN when absent). */
function statusBytes(status: string, name: string): number {
  const at = status.indexOf(`\n${name}:`);
  return at < 0 ? NaN : Number.parseInt(status.slice(at + name.length + 2).trimStart(), 10) * 1024;
}

/** RSS and peak RSS in bytes from /proc (Linux); undefined elsewhere. */
function procMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    const rss = statusBytes(status, "VmRSS");
    const hwm = statusBytes(status, "VmHWM");
    return Number.isFinite(rss) ? { rss, hwm: Number.isFinite(hwm) ? hwm : rss } : undefined;
  } catch {
    return undefined;
  }
}

/** The page size, from this process's resident pages (/proc/self/statm) against its RSS in bytes. */
function pageSize(): number {
  try {
    const pages = Number(readFileSync("/proc/self/statm", "latin1").split(" ")[1]);
    return 2 ** Math.round(Math.log2(process.memoryUsage.rss() / pages));
  } catch {
    return 4096;
  }
}

/**
 * A process's RSS, re-read from /proc/<pid>/statm through one open descriptor (a single pread,
 * not open + read + close + the formatting of /proc/<pid>/status): the watchdog reads it 20 times
 * a second per busy environment.
 */
class RssProbe {
  private static page?: number;
  private fd?: number;
  private readonly buf = Buffer.alloc(128);
  constructor(pid: number | undefined) {
    try {
      if (pid) this.fd = openSync(`/proc/${pid}/statm`, "r");
    } catch {
      // not Linux: no watchdog
    }
  }
  rss(): number | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      const resident = Number(this.buf.toString("latin1", 0, n).split(" ")[1]);
      return Number.isFinite(resident) ? resident * (RssProbe.page ??= pageSize()) : undefined;
    } catch {
      return undefined; // the process is gone
    }
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** One execution environment: a worker process with its own log stream. */
type EnvironmentState = "init" | "idle" | "busy" | "dead";

class Environment {
  readonly proc: ChildProcess;
  readonly logStreamName: string;
  private current: EnvironmentState = "init";
  initDurationMs?: number;
  initError?: LambdaError;
  /** Init Duration is reported once, on the environment's first invocation. */
  initReported = false;
  peakRss = 0;
  oomKilled = false;
  heapOom = false;
  private watchdog?: NodeJS.Timeout;
  private readonly probe: RssProbe;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  onMessage?: (msg: any) => void;

  constructor(
    private readonly emu: LambdaEmulator,
    script: string,
  ) {
    const o = emu.options;
    this.logStreamName = `${lambdaDate()}/[$LATEST]${randomBytes(16).toString("hex")}`;
    const heapMb = Math.max(16, Math.floor(o.memory * 0.9));
    this.proc = fork(script, [], {
      cwd: o.taskRoot,
      env: emu.environmentFor(this.logStreamName),
      // source-mapped stacks, as NODE_OPTIONS gives them in the image (src/image/oci.ts)
      execArgv: [`--max-old-space-size=${heapMb}`, "--enable-source-maps"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.exited = new Promise((resolve) => this.proc.once("exit", (code, signal) => resolve({ code, signal })));
    this.proc.once("exit", () => {
      this.state = "dead";
      this.probe.close();
      emu.emit("exit", this.proc.pid);
    });
    this.proc.on("error", () => {}); // surfaced through "exit"
    this.pipeLines(this.proc.stdout!);
    this.pipeLines(this.proc.stderr!);
    this.probe = new RssProbe(this.proc.pid);
    this.watch();
    this.ready = new Promise((resolve) => {
      const started = performance.now();
      this.onMessage = (msg) => {
        if (msg?.type === "ready" || msg?.type === "initError") {
          this.initDurationMs = msg.initDuration ?? performance.now() - started;
          if (msg.type === "initError") this.initError = msg.error;
          // still reserved by the invocation that started it: only that one may use it first
          this.state = "busy";
          resolve();
        }
      };
      this.proc.once("exit", () => resolve());
    });
    this.proc.on("message", (msg: any) => {
      if (msg?.type === "log") this.log(msg.message);
      else this.onMessage?.(msg);
    });
  }

  get state(): EnvironmentState {
    return this.current;
  }

  /** The RSS watchdog runs while the environment works (init or an invocation); Lambda freezes an idle one. */
  set state(next: EnvironmentState) {
    this.current = next;
    if (next === "init" || next === "busy") this.watch();
    else {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }

  /** Lambda's memory limit covers the whole sandbox, not just the V8 heap: watch the RSS. */
  private watch(): void {
    if (this.watchdog) return;
    const limit = this.emu.options.memory * 1024 * 1024;
    this.watchdog = setInterval(() => {
      const rss = this.probe.rss();
      if (rss === undefined) return;
      this.peakRss = Math.max(this.peakRss, rss);
      if (rss > limit && this.current !== "dead") {
        this.oomKilled = true;
        this.proc.kill("SIGKILL");
      }
    }, 50);
    this.watchdog.unref();
  }

  log(message: string): void {
    this.emu.options.log({ timestamp: Date.now(), message, logStreamName: this.logStreamName });
  }

  private pipeLines(stream: NodeJS.ReadableStream): void {
    let buf = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buf += chunk;
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const line of lines) {
        if (/JavaScript heap out of memory|Reached heap limit/.test(line)) this.heapOom = true;
        this.log(line + "\n");
      }
    });
    stream.on("end", () => {
      if (buf) this.log(buf + "\n");
      buf = "";
    });
  }

  /** Peak RSS in MB: the worker's own figure (the kernel's peak) when it sent one, else /proc's. */
  maxMemoryUsedMb(workerPeak?: number): number {
    if (workerPeak === undefined) {
      const mem = this.proc.pid ? procMemory(this.proc.pid) : undefined;
      if (mem) this.peakRss = Math.max(this.peakRss, mem.hwm);
    }
    return Math.ceil(Math.max(this.peakRss, workerPeak ?? 0) / (1024 * 1024));
  }

  kill(): void {
    if (this.state !== "dead" && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}

export class LambdaEmulator extends EventEmitter {
  readonly options: Required<Omit<EmulatorOptions, "workerScript">> & { workerScript: string };
  private readonly environments = new Set<Environment>();
  private readonly queue: Job[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private running = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: EmulatorOptions) {
    super();
    this.options = {
      handler: "index.handler",
      billInit: true,
      ...options,
      // an explicit `retryDelays: undefined` (the stack passes its caller's option through) means the default
      retryDelays: options.retryDelays ?? LAMBDA_RETRY_DELAYS,
      workerScript: options.workerScript ?? workerScriptPath(),
    };
    if (!existsSync(this.options.workerScript)) {
      throw new Error(`the emulator runtime ${this.options.workerScript} is missing; run "npm run build"`);
    }
    if (!existsSync(this.options.taskRoot)) throw new Error(`task root ${this.options.taskRoot} does not exist`);
  }

  /** The environment Lambda gives a function, plus the function's own variables. */
  environmentFor(logStreamName: string): NodeJS.ProcessEnv {
    const o = this.options;
    return {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      LANG: "en_US.UTF-8",
      TZ: ":UTC",
      NODE_PATH: join(o.taskRoot, "node_modules"),
      LAMBDA_TASK_ROOT: o.taskRoot,
      LAMBDA_RUNTIME_DIR: join(packageRoot(), "dist", "local"),
      _HANDLER: o.handler,
      AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${process.versions.node.split(".")[0]}.x`,
      AWS_LAMBDA_FUNCTION_NAME: o.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memory),
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${o.functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
      AWS_REGION: o.region,
      AWS_DEFAULT_REGION: o.region,
      // The image runs Node 22 (no such warning there); on an older host Node the SDK's
      // end-of-support warning would otherwise fill every cold start's log.
      ...(Number(process.versions.node.split(".")[0]) < 22 ? { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } : {}),
      ...o.environment,
    };
  }

  /** PIDs of the live worker processes. */
  pids(): number[] {
    return [...this.environments].filter((e) => e.state !== "dead").map((e) => e.proc.pid!);
  }

  /** Synchronous invocation (RequestResponse): no retries; resolves with the result or Lambda's error. */
  invoke(event: unknown, requestId: string = randomUUID()): Promise<InvokeOutcome> {
    return new Promise((resolve) => this.enqueue({ requestId, event, attempt: 0, async: false, resolve }));
  }

  /**
   * Asynchronous invocation (Event), as S3 uses: queued, retried on error; resolves with the final
   * outcome after the retries. Emits "failed" when every attempt failed.
   */
  invokeAsync(event: unknown, requestId: string = randomUUID()): Promise<InvokeOutcome> {
    return new Promise((resolve) => this.enqueue({ requestId, event, attempt: 0, async: true, resolve }));
  }

  /** Resolves when nothing is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.running === 0 && this.retryTimers.size === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private enqueue(job: Job): void {
    if (this.closed) {
      job.resolve({ ok: false, requestId: job.requestId, error: { errorType: "ServiceException", errorMessage: "the emulator is shut down", trace: [] } });
      return;
    }
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0 && this.running < this.options.concurrency) {
      const job = this.queue.shift()!;
      this.running++;
      void this.run(job).finally(() => {
        this.running--;
        this.pump();
        this.checkIdle();
      });
    }
  }

  private acquire(): Environment {
    for (const env of this.environments) {
      if (env.state === "idle") {
        env.state = "busy";
        return env;
      }
    }
    for (const env of this.environments) if (env.state === "dead") this.environments.delete(env);
    const env = new Environment(this, this.options.workerScript);
    env.log(`INIT_START Runtime Version: nodejs:${process.versions.node.split(".")[0]}.imgfn-local\tRuntime Version ARN: none (imgfn local emulator)\n`);
    this.environments.add(env);
    this.emit("spawn", env.proc.pid);
    return env;
  }

  private async run(job: Job): Promise<void> {
    const outcome = await this.attempt(job);
    if (outcome.ok || !job.async || job.attempt >= this.options.retries || this.closed) {
      // an event cut short by close() did not fail: the next start's catch-up finds it again
      if (!outcome.ok && job.async && !this.closed) this.emit("failed", { requestId: job.requestId, event: job.event, error: outcome.error, attempts: job.attempt + 1, at: new Date().toISOString() } satisfies FailedInvocation);
      job.resolve(outcome);
      return;
    }
    const delays = this.options.retryDelays;
    const delay = delays[Math.min(job.attempt, delays.length - 1)] ?? 0;
    this.emit("retry", { requestId: job.requestId, attempt: job.attempt + 1, delay, error: outcome.error });
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.enqueue({ ...job, attempt: job.attempt + 1 });
    }, delay);
    this.retryTimers.add(timer);
  }

  /** One attempt on one environment. Never throws. */
  private async attempt(job: Job): Promise<InvokeOutcome> {
    const env = this.acquire();
    const { requestId } = job;
    const o = this.options;
    if (env.state === "init") {
      const initTimer = setTimeout(() => env.kill(), Math.max(INIT_LIMIT_MS, o.timeout * 1000));
      await env.ready;
      clearTimeout(initTimer);
      if (env.state === "init") env.state = "dead";
    }
    const cold = !env.initReported && env.initDurationMs !== undefined;
    const initDuration = cold ? env.initDurationMs : undefined;
    env.initReported = true;

    env.log(`START RequestId: ${requestId} Version: $LATEST\n`);
    const started = performance.now();
    const finish = (status: InvocationRecord["status"], result: { result?: unknown; error?: LambdaError }, workerRss?: number): InvokeOutcome => {
      const duration = performance.now() - started;
      // Lambda never reports more than the memory size, even for an environment it killed for memory
      const maxMem = Math.min(env.maxMemoryUsedMb(workerRss), o.memory);
      const billed = Math.ceil(duration + (o.billInit && initDuration ? initDuration : 0));
      env.log(`END RequestId: ${requestId}\n`);
      let report = `REPORT RequestId: ${requestId}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${billed} ms\tMemory Size: ${o.memory} MB\tMax Memory Used: ${maxMem} MB\t`;
      if (initDuration !== undefined) report += `Init Duration: ${initDuration.toFixed(2)} ms\t`;
      if (status === "timeout") report += `Status: timeout\n`;
      else if (result.error?.errorType.startsWith("Runtime.")) report += `Status: error\tError Type: ${result.error.errorType}\n`;
      else report += "\n";
      env.log(report);
      const record: InvocationRecord = {
        requestId,
        attempt: job.attempt,
        status,
        durationMs: duration,
        billedMs: billed,
        initDurationMs: initDuration,
        maxMemoryUsedMb: maxMem,
        pid: env.proc.pid!,
        ...result,
      };
      this.emit("invocation", record);
      return result.error ? { ok: false, requestId, error: result.error } : { ok: true, requestId, result: result.result };
    };

    if (env.state === "dead" || env.initError) {
      // Lambda re-runs a failed init inside the invocation; the environment does not survive it.
      const error = env.initError ?? (await this.exitError(env, requestId));
      env.kill();
      return finish("error", { error });
    }

    return new Promise<InvokeOutcome>((resolve) => {
      let settled = false;
      const settle = (value: InvokeOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        env.proc.off("exit", onExit);
        env.onMessage = undefined;
        resolve(value);
      };
      const timer = setTimeout(() => {
        const seconds = o.timeout.toFixed(2);
        env.log(`${new Date().toISOString()} ${requestId} Task timed out after ${seconds} seconds\n\n`);
        env.kill();
        settle(finish("timeout", { error: { errorType: "Sandbox.Timedout", errorMessage: `RequestId: ${requestId} Error: Task timed out after ${seconds} seconds`, trace: [] } }));
      }, o.timeout * 1000);
      const onExit = () => {
        void env.exited.then(async () => settle(finish("error", { error: await this.exitError(env, requestId) })));
      };
      env.proc.once("exit", onExit);
      env.onMessage = (msg: any) => {
        if (msg?.requestId !== requestId) return;
        if (msg.type === "result") {
          env.state = "idle";
          settle(finish("success", { result: msg.result }, msg.maxRss));
        } else if (msg.type === "error") {
          // an uncaught error ends the runtime process: never hand that environment out again
          if (msg.fatal) env.kill();
          else env.state = "idle";
          settle(finish("error", { error: msg.error }, msg.maxRss));
        }
      };
      env.state = "busy";
      env.proc.send({ type: "invoke", requestId, event: job.event, deadline: Date.now() + o.timeout * 1000 });
    });
  }

  /** Lambda's message for an environment that died under an invocation. */
  private async exitError(env: Environment, requestId: string): Promise<LambdaError> {
    const { code, signal } = await env.exited;
    const how = signal ? `signal: ${SIGNAL_TEXT[signal] ?? signal.toLowerCase()}` : `exit status ${code}`;
    const oom = env.oomKilled || env.heapOom;
    const errorType = oom ? "Runtime.OutOfMemory" : "Runtime.ExitError";
    const errorMessage = `RequestId: ${requestId} Error: Runtime exited with error: ${how}`;
    env.log(`${errorMessage}\n${errorType}\n`);
    return { errorType, errorMessage, trace: [] };
  }

  /** Stops everything: pending retries dropped, queued events failed, every worker killed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const job of this.queue.splice(0)) {
      job.resolve({ ok: false, requestId: job.requestId, error: { errorType: "ServiceException", errorMessage: "the emulator was shut down before this event ran", trace: [] } });
    }
    const envs = [...this.environments];
    for (const env of envs) env.kill();
    await Promise.all(envs.map((e) => e.exited));
    this.environments.clear();
    this.checkIdle();
  }
}
