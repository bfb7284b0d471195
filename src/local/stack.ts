/**
 * The embedded pipeline in one door: local S3 + the trigger rules deploy would configure + the
 * Lambda emulator running the staged function + local logs + the RIE invoke URL. `imgfn dev`,
 * `imgfn demo` and the tests all start it through startLocalStack().
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { functionEnvironment, resourceNames, type Config } from "../config.js";
import { stageFunction } from "../image/stage.js";
import type { ModelSpec } from "../model/spec.js";
import { LambdaEmulator, type FailedInvocation } from "./emulator.js";
import { failedStoreDir, LocalFailedStore } from "./failed.js";
import { matchTrigger, triggerRules } from "./events.js";
import { LogWriter, logGroupDir } from "./logs.js";
import { startInvokeServer, type InvokeServer } from "./rie.js";
import { localS3Client, localS3Environment, s3EventRecord, startLocalS3, type LocalS3, type S3Notification } from "./s3.js";

export interface LocalStackOptions {
  config: Config;
  /** The model to stage with the function (ignored when taskRoot is given). */
  spec?: ModelSpec;
  /** An already staged task root (tests use small fixture functions). */
  taskRoot?: string;
  /** Folder for S3 data, logs and the staged function (e.g. <project>/.imgfn/local). */
  root: string;
  region?: string;
  s3Port?: number;
  invokePort?: number;
  retryDelays?: number[];
}

export interface LocalStack {
  bucket: string;
  region: string;
  functionName: string;
  s3Endpoint: string;
  invokeEndpoint: string;
  taskRoot: string;
  logsDir: string;
  emulator: LambdaEmulator;
  logs: LogWriter;
  /** Where events that failed every attempt are kept (`imgfn failed --local`). */
  failedStore: LocalFailedStore;
  /** Resolves when every delivered event has finished (including retries). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function localBucketName(config: Pick<Config, "app" | "bucket">): string {
  return config.bucket ?? `imgfn-${config.app}-local`;
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const { config } = opts;
  const region = opts.region ?? config.region ?? "us-east-1";
  const bucket = localBucketName(config);
  const { functionName } = resourceNames(config);
  await mkdir(opts.root, { recursive: true });

  let taskRoot = opts.taskRoot;
  if (!taskRoot) {
    if (!opts.spec) throw new Error("startLocalStack needs a model spec or a staged task root");
    taskRoot = (await stageFunction(opts.spec, join(opts.root, "function"), { linkNodeModules: true })).dir;
  }
  const logsDir = logGroupDir(join(opts.root, "logs"), functionName);
  const logs = new LogWriter(logsDir);
  const rules = triggerRules(config);

  const cleanups: (() => Promise<void> | void)[] = [() => logs.close()];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  };
  try {
    let emulator: LambdaEmulator | undefined;
    const pending: S3Notification[] = [];
    const deliver = (n: S3Notification) => {
      // deploy subscribes the function to s3:ObjectCreated:* only
      if (n.bucket !== bucket || !n.eventName.startsWith("ObjectCreated:")) return;
      const rule = matchTrigger(n.key, rules);
      if (!rule) return;
      // S3 → Lambda is asynchronous: the PUT has already been answered; the event is queued.
      void emulator!.invokeAsync({ Records: [s3EventRecord(n, { region, configurationId: rule.id })] });
    };
    const s3: LocalS3 = await startLocalS3({
      directory: join(opts.root, "s3"),
      buckets: [bucket],
      port: opts.s3Port,
      region,
      onEvent: (n) => (emulator ? deliver(n) : pending.push(n)),
    });
    cleanups.push(() => s3.close());

    emulator = new LambdaEmulator({
      taskRoot,
      functionName,
      memory: config.memory,
      timeout: config.timeout,
      concurrency: config.concurrency,
      retries: config.retries,
      retryDelays: opts.retryDelays,
      region,
      environment: { ...functionEnvironment(config, { bucket }), ...localS3Environment(s3.endpoint, region) },
      log: (e) => logs.write(e),
    });
    const emu = emulator;
    cleanups.push(() => emu.close());
    const failedStore = new LocalFailedStore(failedStoreDir(opts.root));
    emu.on("failed", (f: FailedInvocation) => failedStore.add(f, functionName));
    for (const obj of pending.splice(0)) deliver(obj);

    const rie: InvokeServer = await startInvokeServer(emulator, opts.invokePort);
    cleanups.push(() => rie.close());

    return {
      bucket,
      region,
      functionName,
      s3Endpoint: s3.endpoint,
      invokeEndpoint: rie.endpoint,
      taskRoot,
      logsDir,
      emulator,
      logs,
      failedStore,
      idle: () => emu.idle(),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export { localS3Client };
