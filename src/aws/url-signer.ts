/**
 * SigV4 for Function URLs with auth AWS_IAM (service "lambda"), with the credentials and hash the
 * SDK's own client resolved from the default chain (env, shared config/profile, SSO, roles).
 */
import { createHash } from "node:crypto";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import { SignatureV4 } from "@smithy/signature-v4";
import type { RequestSigner } from "../pipeline/http-classify.js";

/** The region in a Function URL's host name (<id>.lambda-url.<region>.on.aws), if it is one. */
export function functionUrlRegion(url: string): string | undefined {
  try {
    return /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

export function lambdaUrlSigner(lambda: LambdaClient, region: string): RequestSigner {
  const signer = new SignatureV4({ service: "lambda", region, credentials: lambda.config.credentials, sha256: lambda.config.sha256 });
  return async ({ method, url, headers, body }) => {
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      // the body's hash as a header too: Lambda (and CloudFront in front of it) checks it for POST
      headers: { ...headers, host: url.host, "x-amz-content-sha256": createHash("sha256").update(body).digest("hex") },
      body,
    });
    // fetch sets Host itself and refuses to be told
    const { host: _host, ...rest } = signed.headers;
    return rest;
  };
}
