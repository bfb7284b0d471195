/**
 * imgfn.config.json + flags → one validated Config, and the resource names derived from it.
 * Every command reads its settings from here, so local and AWS targets agree on prefixes,
 * suffixes, memory and timeout.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_SUFFIXES } from "../handler/settings.js";
import { ConfigError } from "./errors.js";

export const CONFIG_FILE = "imgfn.config.json";
export type Architecture = "x86_64" | "arm64";

export interface Config {
  /** Lower-case name used in every resource name: imgfn-<app>. */
  app: string;
  region?: string;
  /** Bucket name; when unset, deploy derives imgfn-<app>-<account>-<region>. */
  bucket?: string;
  inputPrefix: string;
  outputPrefix: string;
  suffixes: string[];
  /** Lambda memory in MB (128..10240). */
  memory: number;
  /** Lambda timeout in seconds (1..900). */
  timeout: number;
  architecture: Architecture;
  reservedConcurrency?: number;
  /** Model manifest (.json) or .onnx path; default: imgfn's bundled MobileNetV2. */
  model?: string;
  /** Labels for a bare .onnx model. */
  labels?: string;
  topK: number;
  maxBytes: number;
  maxPixels: number;
  baseImage: string;
  logRetentionDays: number;
  /** Local emulator: concurrent workers. */
  concurrency: number;
  /** Asynchronous-invocation retries (Lambda's default is 2). */
  retries: number;
  /** The Function URL (synchronous HTTP classification): false, or its auth type and CORS. */
  http: HttpConfig | false;
  /** A golden file deploy's verify checks (the same as deploy --golden). */
  golden?: string;
  /** Folder the config was read from; relative paths resolve against it. */
  root: string;
}

export const DEFAULTS: Omit<Config, "app" | "root"> = {
  inputPrefix: "uploads/",
  outputPrefix: "results/",
  suffixes: DEFAULT_SUFFIXES,
  memory: 1024,
  timeout: 30,
  architecture: "x86_64",
  topK: 5,
  maxBytes: DEFAULT_MAX_BYTES,
  maxPixels: DEFAULT_MAX_PIXELS,
  baseImage: "public.ecr.aws/lambda/nodejs:22",
  logRetentionDays: 14,
  concurrency: 2,
  retries: 2,
  http: false,
};

export type FunctionUrlAuth = "AWS_IAM" | "NONE";
export interface CorsConfig {
  allowOrigins: string[];
  allowMethods?: string[];
  allowHeaders?: string[];
  maxAge?: number;
}
export interface HttpConfig {
  auth: FunctionUrlAuth;
  cors?: CorsConfig;
}

const KNOWN_KEYS = new Set<string>([...Object.keys(DEFAULTS), "app", "region", "bucket", "reservedConcurrency", "model", "labels", "golden"]);
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export type ConfigInput = Partial<Omit<Config, "root">>;

/** Reads imgfn.config.json from `root` (if present) and applies `overrides` (flags) on top. */
export function loadConfig(root = process.cwd(), overrides: ConfigInput = {}, file?: string): Config {
  const path = file ? resolve(file) : join(root, CONFIG_FILE);
  let fromFile: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      fromFile = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`);
    }
    if (!fromFile || typeof fromFile !== "object" || Array.isArray(fromFile)) throw new ConfigError(`${path}: must be a JSON object`);
    const unknown = Object.keys(fromFile).filter((k) => !KNOWN_KEYS.has(k) && k !== "$schema");
    if (unknown.length) throw new ConfigError(`${path}: unknown setting${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`, { hint: `known settings: ${[...KNOWN_KEYS].join(", ")}` });
  } else if (file) {
    throw new ConfigError(`config file not found: ${path}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return validateConfig({ ...fromFile, ...defined }, root, existsSync(path) ? path : "flags", new Set(Object.keys(defined)));
}

/** `fromFlags`: the settings a flag gave, so an error blames --memory rather than the file. */
export function validateConfig(raw: Record<string, any>, root: string, source = "config", fromFlags: Set<string> = new Set()): Config {
  let current: string | undefined; // the setting being checked
  const fail = (msg: string, hint?: string): never => {
    const origin = current && fromFlags.has(current) ? `--${current.replace(/[A-Z]/g, (ch) => "-" + ch.toLowerCase())}` : source;
    throw new ConfigError(`${origin}: ${msg}`, { hint });
  };
  const checking = (name: string) => (current = name);
  checking("app");
  const app = raw.app ?? defaultApp(root);
  if (typeof app !== "string" || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(app)) {
    fail(`"app" must be 1-40 lower-case letters, digits or dashes, starting with a letter or digit (got ${JSON.stringify(app)})`);
  }
  const c = { ...DEFAULTS, ...raw, app, root } as Config;
  const prefix = (name: "inputPrefix" | "outputPrefix") => {
    checking(name);
    const v = c[name];
    if (typeof v !== "string") fail(`"${name}" must be a string`);
    if (v.startsWith("/")) fail(`"${name}" must not start with "/" (S3 keys have no leading slash)`);
    if (v !== "" && !v.endsWith("/")) c[name] = v + "/"; // "uploads" means the folder uploads/
  };
  prefix("inputPrefix");
  prefix("outputPrefix");
  checking("outputPrefix");
  if (c.outputPrefix === "") fail(`"outputPrefix" must not be empty: results would land where uploads trigger the function`);
  if (c.outputPrefix.startsWith(c.inputPrefix)) {
    fail(
      `"outputPrefix" (${c.outputPrefix}) is inside "inputPrefix" (${c.inputPrefix || "the whole bucket"}): every result would retrigger the function`,
      `use separate prefixes, e.g. "inputPrefix": "uploads/", "outputPrefix": "results/"`,
    );
  }
  if (c.inputPrefix.startsWith(c.outputPrefix)) fail(`"inputPrefix" (${c.inputPrefix}) is inside "outputPrefix" (${c.outputPrefix})`);
  checking("suffixes");
  if (!Array.isArray(c.suffixes) || !c.suffixes.every((s) => typeof s === "string" && s.length > 0)) {
    fail(`"suffixes" must be an array of non-empty strings, e.g. [".jpg", ".png"]`);
  }
  const int = (name: keyof Config, min: number, max: number, what: string) => {
    checking(name);
    const v = c[name];
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) fail(`"${name}" must be an integer from ${min} to ${max} (${what}); got ${JSON.stringify(v)}`);
  };
  int("memory", 128, 10240, "MB, Lambda's range");
  int("timeout", 1, 900, "seconds, Lambda's range");
  int("topK", 1, 1000, "predictions per image");
  int("maxBytes", 1, 10 * 1024 ** 3, "bytes");
  int("maxPixels", 1, 1_000_000_000, "pixels");
  int("concurrency", 1, 64, "local workers");
  int("retries", 0, 2, "Lambda allows 0, 1 or 2");
  if (c.reservedConcurrency !== undefined) int("reservedConcurrency", 0, 100000, "reserved concurrent executions");
  checking("logRetentionDays");
  if (!RETENTION_DAYS.includes(c.logRetentionDays)) fail(`"logRetentionDays" must be one of CloudWatch's values: ${RETENTION_DAYS.join(", ")}`);
  checking("architecture");
  if (c.architecture !== "x86_64" && c.architecture !== "arm64") fail(`"architecture" must be "x86_64" or "arm64" (got ${JSON.stringify(c.architecture)})`);
  checking("bucket");
  if (c.bucket !== undefined && !/^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(c.bucket)) {
    fail(`"bucket" ${JSON.stringify(c.bucket)} is not a valid S3 bucket name (3-63 lower-case letters, digits, dots, dashes)`);
  }
  checking("baseImage");
  if (typeof c.baseImage !== "string" || c.baseImage === "") fail(`"baseImage" must be an image reference`);
  c.http = validateHttp(c.http, fail);
  if (c.model !== undefined) c.model = resolve(root, c.model);
  if (c.labels !== undefined) c.labels = resolve(root, c.labels);
  if (c.golden !== undefined) {
    if (typeof c.golden !== "string" || c.golden === "") fail(`"golden" must be the path of a golden file (imgfn golden make … -o golden.json)`);
    c.golden = resolve(root, c.golden);
  }
  return c;
}

/** "http": true | false | { "auth": "AWS_IAM" | "NONE", "cors": { "allowOrigins": [...] } } → HttpConfig | false. */
function validateHttp(raw: unknown, fail: (msg: string, hint?: string) => never): HttpConfig | false {
  if (raw === false || raw === undefined || raw === null) return false;
  if (raw === true) return { auth: "AWS_IAM" };
  const example = `"http": true, or { "auth": "AWS_IAM", "cors": { "allowOrigins": ["https://app.example.com"] } }`;
  if (typeof raw !== "object" || Array.isArray(raw)) fail(`"http" must be true, false or an object`, example);
  const h = raw as Record<string, any>;
  const unknown = Object.keys(h).filter((k) => k !== "auth" && k !== "cors");
  if (unknown.length) fail(`"http" has unknown setting${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (known: auth, cors)`, example);
  const auth = h.auth ?? "AWS_IAM";
  if (auth !== "AWS_IAM" && auth !== "NONE") fail(`"http.auth" must be "AWS_IAM" (signed requests only, the default) or "NONE" (public), got ${JSON.stringify(auth)}`);
  if (h.cors === undefined) return { auth };
  const cors = h.cors as Record<string, any>;
  if (!cors || typeof cors !== "object" || Array.isArray(cors)) fail(`"http.cors" must be an object like { "allowOrigins": ["https://app.example.com"] }`);
  const badCors = Object.keys(cors).filter((k) => !["allowOrigins", "allowMethods", "allowHeaders", "maxAge"].includes(k));
  if (badCors.length) fail(`"http.cors" has unknown setting${badCors.length > 1 ? "s" : ""} ${badCors.join(", ")} (known: allowOrigins, allowMethods, allowHeaders, maxAge)`);
  const strings = (name: string, v: unknown, ok: (s: string) => boolean, what: string) => {
    if (!Array.isArray(v) || v.length === 0 || v.length > 100 || !v.every((s) => typeof s === "string" && ok(s))) fail(`"http.cors.${name}" must be a list of ${what}; got ${JSON.stringify(v)}`);
    return v as string[];
  };
  // Lambda accepts "*" or scheme://host[:port] (no path) for each origin
  const allowOrigins = strings("allowOrigins", cors.allowOrigins, (s) => s === "*" || /^https?:\/\/[^/\s]+$/.test(s), `origins like "https://app.example.com" (no path) or "*"`);
  const out: CorsConfig = { allowOrigins };
  if (cors.allowMethods !== undefined) out.allowMethods = strings("allowMethods", cors.allowMethods, (s) => /^(\*|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/.test(s), `HTTP methods ("POST", "GET") or "*"`);
  if (cors.allowHeaders !== undefined) out.allowHeaders = strings("allowHeaders", cors.allowHeaders, (s) => /^[!#$%&'*+.^\w|~-]+$/.test(s), "header names");
  if (cors.maxAge !== undefined) {
    if (!Number.isInteger(cors.maxAge) || cors.maxAge < 0 || cors.maxAge > 86400) fail(`"http.cors.maxAge" must be seconds from 0 to 86400; got ${JSON.stringify(cors.maxAge)}`);
    out.maxAge = cors.maxAge;
  }
  return { auth, cors: out };
}

/**
 * The CORS rules a Function URL applies (deploy writes them; the local URL server obeys them): the
 * configured origins, GET and POST, and the headers a browser needs to send (SigV4's for AWS_IAM).
 */
export function effectiveCors(http: HttpConfig): Required<CorsConfig> | undefined {
  if (!http.cors) return undefined;
  const signing = http.auth === "AWS_IAM" ? ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"] : [];
  return {
    allowOrigins: http.cors.allowOrigins,
    allowMethods: http.cors.allowMethods ?? ["GET", "POST"],
    allowHeaders: http.cors.allowHeaders ?? ["content-type", ...signing],
    maxAge: http.cors.maxAge ?? 300,
  };
}

/**
 * The app name when none is set: the project folder's name made to fit the app-name rule
 * (lower case, letters, digits and dashes, at most 40), or "imgfn" when nothing of it fits.
 */
export function defaultApp(root: string): string {
  const name = basename(resolve(root)).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  return /^[a-z0-9]/.test(name) ? name : "imgfn";
}

/** Names of everything imgfn creates for an app, so it recognises its own resources. */
export function resourceNames(config: Pick<Config, "app">) {
  const base = `imgfn-${config.app}`;
  return {
    functionName: base,
    roleName: `${base}-role`,
    policyName: `${base}-s3-logs`,
    repositoryName: base,
    logGroupName: `/aws/lambda/${base}`,
    /** Notification configuration Ids imgfn owns start with this. */
    notificationIdPrefix: `${base}-`,
    permissionStatementId: `${base}-s3-invoke`,
    /** SQS queue that receives the events the function failed on after every retry. */
    failureQueueName: `${base}-failed`,
    tags: { "imgfn:app": config.app, "managed-by": "imgfn" } as Record<string, string>,
  };
}

/**
 * The S3 trigger rules, as deploy writes them (src/aws/s3.ts) and the local stack applies them
 * (src/local/events.ts): one per suffix (an S3 filter takes one suffix), or one for every key,
 * each with an Id made of `idPrefix` and the suffix's letters.
 */
export function triggerFilters(idPrefix: string, prefix: string, suffixes: string[]): { id: string; prefix: string; suffix: string }[] {
  const used = new Set<string>();
  return (suffixes.length > 0 ? suffixes : [""]).map((suffix) => {
    let label = suffix.replace(/[^A-Za-z0-9]+/g, "") || "all";
    for (let n = 2; used.has(label); n++) label = `${label}-${n}`;
    used.add(label);
    return { id: `${idPrefix}${label}`, prefix, suffix };
  });
}

/** Tag imgfn puts on a bucket it created itself; teardown --delete-bucket looks for it. */
export const CREATED_BUCKET_TAG = "imgfn:created-bucket";

/**
 * The bucket: the configured one, else imgfn-<app>-<account>-<region> (globally unique, and
 * stable across runs). Names longer than S3's 63 characters shorten the app part.
 */
export function bucketName(config: Pick<Config, "app" | "bucket">, account: string, region: string): string {
  if (config.bucket) return config.bucket;
  const suffix = `-${account}-${region}`;
  const app = config.app.slice(0, Math.max(1, 63 - "imgfn-".length - suffix.length)).replace(/-+$/, "");
  return `imgfn-${app}${suffix}`;
}

/**
 * The environment the function reads (handler/settings.ts), from the config and the bucket. Behind an
 * --endpoint-url (an emulator) the function's own S3 client must use path-style addresses too;
 * deploy sets that and status expects it, so neither reports the other's choice as drift.
 */
export function functionEnvironment(config: Config, opts: { endpointUrl?: string; bucket?: string } = {}): Record<string, string> {
  return {
    ...(opts.endpointUrl ? { IMGFN_S3_FORCE_PATH_STYLE: "1" } : {}),
    // the only bucket whose records the function processes (records for any other are skipped)
    ...(opts.bucket ? { IMGFN_BUCKET: opts.bucket } : {}),
    IMGFN_INPUT_PREFIX: config.inputPrefix,
    IMGFN_OUTPUT_PREFIX: config.outputPrefix,
    IMGFN_SUFFIXES: config.suffixes.join(","),
    IMGFN_MAX_BYTES: String(config.maxBytes),
    IMGFN_MAX_PIXELS: String(config.maxPixels),
    IMGFN_TOP_K: String(config.topK),
    // onnxruntime persists a telemetry device id under $HOME (read-only on Lambda) and logs a
    // coloured warning on every cold start when it cannot; with telemetry off it does neither
    ORT_DISABLE_TELEMETRY: "1",
  };
}
