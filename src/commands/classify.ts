import { readFile } from "node:fs/promises";
import { SYNC_LIMIT_TEXT } from "../../handler/settings.js";
import { createClients } from "../aws/clients.js";
import { withAwsErrors } from "../aws/errors.js";
import { getFunctionUrl } from "../aws/function-url.js";
import { functionUrlRegion, lambdaUrlSigner } from "../aws/url-signer.js";
import { loadConfig, resourceNames } from "../config.js";
import { ConfigError, PartialFailure, UserError } from "../errors.js";
import { requireDevState } from "../local/target.js";
import { contentTypeFor, type HttpAnswer, postImage, type RequestSigner } from "../pipeline/http-classify.js";
import { type FileResult, fileReadError, printFileResults } from "../ui/predictions.js";
import { type Context, defineCommand, parsePositive } from "./command.js";

interface ClassifyResult extends FileResult {
  status?: number;
  requestId?: string;
  coldStart?: boolean;
  latencyMs?: number;
}

interface Endpoint {
  url: string;
  sign?: RequestSigner;
  description: string;
}

/** Where to send: --url, the local stack (--local), or the deployed function's URL. */
async function endpointFor(ctx: Context, opts: Record<string, any>): Promise<Endpoint> {
  if (opts.local && opts.url) throw new ConfigError("give either --local or --url, not both");
  if (opts.local) {
    const state = requireDevState(ctx.cwd);
    if (!state.functionUrl) throw new UserError(`the running imgfn dev (pid ${state.pid}) predates Function URLs`, { hint: "restart imgfn dev" });
    return { url: state.functionUrl, description: `local Function URL ${state.functionUrl}` };
  }
  if (opts.url) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new ConfigError(`--url must be an http(s) URL, got "${opts.url}"`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConfigError(`--url must be an http(s) URL, got "${opts.url}"`);
    // a Lambda Function URL is signed unless --no-sign (an AWS_IAM URL refuses unsigned calls)
    const region = functionUrlRegion(opts.url);
    const sign = opts.sign ?? Boolean(region);
    if (!sign) return { url: opts.url, description: opts.url };
    const signRegion = region ?? ctx.globals.region ?? ctx.env.AWS_REGION ?? ctx.env.AWS_DEFAULT_REGION;
    if (!signRegion) throw new ConfigError("--sign needs a region: pass --region (the URL does not name one)");
    const clients = await createClients({ ...ctx.globals, region: signRegion }, undefined, { env: ctx.env });
    return { url: opts.url, sign: lambdaUrlSigner(clients.lambda, signRegion), description: `${opts.url} (SigV4-signed)` };
  }
  const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
  const { functionName } = resourceNames(config);
  return withAwsErrors(async () => {
    const clients = await createClients(ctx.globals, config, { env: ctx.env });
    const cfg = await getFunctionUrl(clients.lambda, functionName);
    if (!cfg?.FunctionUrl) {
      throw new UserError(`${functionName} in ${clients.region} has no Function URL`, { hint: 'deploy one with "imgfn deploy --http" (or "http": true in imgfn.config.json), or use --local / --url' });
    }
    const sign = cfg.AuthType === "AWS_IAM" && opts.sign !== false ? lambdaUrlSigner(clients.lambda, clients.region) : undefined;
    return { url: cfg.FunctionUrl, sign, description: `${cfg.FunctionUrl} (auth ${cfg.AuthType})` };
  }, ctx.globals);
}

/** The function's answer → the per-file record; a refusal of the caller itself stops everything. */
function toResult(file: string, a: HttpAnswer, endpoint: Endpoint): ClassifyResult {
  const d = a.document;
  const meta = { status: a.status, requestId: d?.requestId ?? a.requestId, latencyMs: Math.round(a.latencyMs * 100) / 100 };
  if (a.status === 200 && Array.isArray(d?.predictions)) {
    return { file, predictions: d.predictions, image: d.image, timings: d.timings, coldStart: d.coldStart, ...meta };
  }
  if (d?.error?.code) return { file, error: { code: d.error.code, message: d.error.message }, ...meta };
  if (a.status === 403 || a.status === 401) {
    throw new UserError(`${endpoint.url} refused the request (${a.status}${d?.Message ? `: ${d.Message}` : d?.message ? `: ${d.message}` : ""})`, {
      hint: endpoint.sign
        ? "your credentials need lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function (docs/aws.md)"
        : 'the URL may need SigV4 signing: add --sign (AWS_IAM auth), or deploy with "http": { "auth": "NONE" } for a public URL',
    });
  }
  // Lambda's own refusal of a request over its payload limit has no error document of ours
  if (a.status === 413) return { file, error: { code: "PAYLOAD_TOO_LARGE", message: `${endpoint.url} refused the body as too large (413): ${SYNC_LIMIT_TEXT}` }, ...meta };
  const what = d?.Message ?? d?.message ?? a.text.slice(0, 200);
  return { file, error: { code: a.status === 502 ? "FUNCTION_ERROR" : `HTTP_${a.status}`, message: `${endpoint.url} answered ${a.status}${what ? `: ${what}` : ""}` }, ...meta };
}

export const classifyCommand = defineCommand({
  examples: ["classify cat.jpg", "classify --local samples/cat.jpg --json", "classify --url http://127.0.0.1:9000/ photo.png --top 3"],
  globals: ["json", "region", "profile", "config"],
  options: (cmd) => {
    cmd.option("--local", "send to the running `imgfn dev` stack's Function URL", false);
    cmd.option("--url <url>", "send to this URL (any server answering like the function's URL)");
    cmd.option("-t, --top <n>", "how many predictions per file (the function's default: 5)", (v) => parsePositive(v, "--top"));
    cmd.option("--sign", "sign requests with SigV4 (service lambda) from the default credential chain");
    cmd.option("--no-sign", "never sign, even for an AWS_IAM Function URL");
  },
  async run(ctx, files: string[], opts) {
    const endpoint = await endpointFor(ctx, opts);
    ctx.out.info(ctx.out.c.dim(`classifying with ${endpoint.description}`));
    const results: ClassifyResult[] = [];
    for (const file of files) {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (err) {
        const error = fileReadError(err, file);
        if (!error) throw err;
        results.push({ file, error });
        continue;
      }
      const answer = await postImage(endpoint.url, bytes, { top: opts.top, contentType: contentTypeFor(file), sign: endpoint.sign, signal: ctx.signal });
      results.push(toResult(file, answer, endpoint));
    }
    ctx.out.result(results);
    printFileResults(ctx.out, results);
    const failed = results.filter((r) => r.error).length;
    if (failed) throw new PartialFailure(`${failed} of ${results.length} file${results.length > 1 ? "s" : ""} could not be classified`);
  },
});
