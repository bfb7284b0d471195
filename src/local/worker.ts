/**
 * The runtime inside one emulated Lambda execution environment (a child process forked by
 * emulator.ts; built to dist/local/worker.js). It plays the part of Lambda's Node.js runtime:
 * imports the handler module once (init, the cold start), then runs invocations one at a time,
 * with console output in the runtime's "<time>\t<request id>\t<LEVEL>\t<message>" format.
 *
 * Protocol (IPC, parent → worker): {type:"invoke", requestId, event, deadline}.
 * Worker → parent: {type:"log", message}, {type:"ready", initDuration}, {type:"initError", error},
 * {type:"result", requestId, result, maxRss}, {type:"error", requestId, error, maxRss}.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

interface InvokeMessage {
  type: "invoke";
  requestId: string;
  event: unknown;
  /** Epoch ms when the invocation times out. */
  deadline: number;
}

export interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

const send = (msg: unknown) => {
  if (process.connected) process.send!(msg);
};

// No parent, no reason to live: Lambda's environment never outlives its sandbox.
process.on("disconnect", () => process.exit(0));
// Ctrl-C in a terminal signals the whole process group: the emulator, not the terminal, ends an
// execution environment (an in-flight invocation must not fail as "signal: interrupt").
process.on("SIGINT", () => {});

let currentRequestId: string | undefined;
/** The process's peak RSS in bytes, as the kernel counts it (getrusage: the same as /proc's VmHWM). */
const peakRss = () => process.resourceUsage().maxRSS * 1024;

function emit(level: string, args: unknown[]): void {
  // Lambda's Node runtime: one log event per console call, multi-line messages kept together.
  send({ type: "log", message: `${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${format(...args)}\n` });
}
console.log = (...a: unknown[]) => emit("INFO", a);
console.info = (...a: unknown[]) => emit("INFO", a);
console.warn = (...a: unknown[]) => emit("WARN", a);
console.error = (...a: unknown[]) => emit("ERROR", a);
console.debug = (...a: unknown[]) => emit("DEBUG", a);
console.trace = (...a: unknown[]) => emit("TRACE", a);

export function toLambdaError(err: unknown, fallbackType = "Error"): LambdaError {
  if (err instanceof Error) {
    return {
      errorType: err.name || fallbackType,
      errorMessage: err.message,
      trace: (err.stack ?? "").split("\n"),
    };
  }
  return { errorType: fallbackType, errorMessage: typeof err === "string" ? err : JSON.stringify(err) ?? String(err), trace: [] };
}

const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerSpec = process.env._HANDLER ?? "index.handler";
const dot = handlerSpec.lastIndexOf(".");
const moduleName = handlerSpec.slice(0, dot);
const exportName = handlerSpec.slice(dot + 1);

type Handler = (event: unknown, context: Record<string, unknown>, callback?: (err: unknown, result?: unknown) => void) => unknown;
let handler: Handler | undefined;
let invoking: InvokeMessage | undefined;

async function init(): Promise<void> {
  const started = performance.now();
  try {
    const candidates = [".mjs", ".js", ".cjs"].map((ext) => join(taskRoot, moduleName + ext));
    const { existsSync } = await import("node:fs");
    const file = candidates.find((f) => existsSync(f));
    if (!file) {
      const err = new Error(`Cannot find module '${moduleName}'`);
      err.name = "Runtime.ImportModuleError";
      throw err;
    }
    const mod = await import(pathToFileURL(file).href);
    const fn = mod[exportName] ?? mod.default?.[exportName];
    if (typeof fn !== "function") {
      const err = new Error(`${moduleName}.${exportName} is undefined or not exported`);
      err.name = "Runtime.HandlerNotFound";
      throw err;
    }
    handler = fn;
    send({ type: "ready", initDuration: performance.now() - started });
  } catch (err) {
    const e = toLambdaError(err, "Runtime.ImportModuleError");
    emit("ERROR", [`Init Error`, JSON.stringify({ errorType: e.errorType, errorMessage: e.errorMessage, stack: e.trace })]);
    send({ type: "initError", error: e, initDuration: performance.now() - started });
  }
}

function contextFor(msg: InvokeMessage): Record<string, unknown> {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:000000000000:function:${env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: msg.requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadline - Date.now()),
    done: () => {},
    succeed: () => {},
    fail: () => {},
  };
}

function runHandler(fn: Handler, msg: InvokeMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback = (err: unknown, result?: unknown) => (err ? reject(err) : resolve(result));
    try {
      const ret = fn.length >= 3 ? fn(msg.event, contextFor(msg), callback) : fn(msg.event, contextFor(msg));
      if (ret && typeof (ret as Promise<unknown>).then === "function") (ret as Promise<unknown>).then(resolve, reject);
      else if (fn.length < 3) resolve(ret);
    } catch (err) {
      reject(err);
    }
  });
}

function fail(msg: InvokeMessage, error: LambdaError, fatal = false): void {
  emit("ERROR", ["Invoke Error \t" + JSON.stringify({ errorType: error.errorType, errorMessage: error.errorMessage, stack: error.trace })]);
  send({ type: "error", requestId: msg.requestId, error, maxRss: peakRss(), fatal });
}

async function invoke(msg: InvokeMessage): Promise<void> {
  invoking = msg;
  currentRequestId = msg.requestId;
  try {
    const result = await runHandler(handler!, msg);
    // Lambda serialises the result as JSON; undefined becomes null.
    send({ type: "result", requestId: msg.requestId, result: result === undefined ? null : JSON.parse(JSON.stringify(result)), maxRss: peakRss() });
  } catch (err) {
    fail(msg, toLambdaError(err));
  } finally {
    invoking = undefined;
    currentRequestId = undefined;
  }
}

// Like Lambda's runtime: an error nobody awaited fails the current invocation and ends the process.
for (const kind of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(kind, (err: unknown) => {
    const e = toLambdaError(err, kind === "unhandledRejection" ? "Runtime.UnhandledPromiseRejection" : "Runtime.UncaughtException");
    if (invoking) fail(invoking, e, true);
    else emit("ERROR", [kind, JSON.stringify(e)]);
    setImmediate(() => process.exit(128 + 1));
  });
}

process.on("message", (msg: InvokeMessage) => {
  if (msg?.type === "invoke") void invoke(msg);
});

await init();
