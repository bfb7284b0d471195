/**
 * What a deployment of `config` to `bucket` should look like, in one place: deploy applies it and
 * status compares against it, so neither reports the other's choice as drift.
 */
import { type Config, functionEnvironment, resourceNames } from "../config.js";
import { rolePolicy } from "./iam.js";
import { type EventInvokeRequest, MAX_EVENT_AGE_SECONDS } from "./lambda.js";
import { queueArn } from "./sqs.js";
import type { Identity } from "./sts.js";

export interface Where {
  identity: Pick<Identity, "account" | "partition">;
  region: string;
  bucket: string;
  endpointUrl?: string;
}

export function desiredState(config: Config, where: Where) {
  const names = resourceNames(config);
  const { account, partition } = where.identity;
  const failureQueueArn = queueArn({ partition, region: where.region, account, name: names.failureQueueName });
  const eventInvoke: EventInvokeRequest = { functionName: names.functionName, retries: config.retries, maxEventAgeSeconds: MAX_EVENT_AGE_SECONDS, onFailure: failureQueueArn };
  return {
    names,
    bucketArn: `arn:${partition}:s3:::${where.bucket}`,
    roleArn: `arn:${partition}:iam::${account}:role/${names.roleName}`,
    failureQueueArn,
    policy: rolePolicy({
      partition,
      region: where.region,
      account,
      bucket: where.bucket,
      inputPrefix: config.inputPrefix,
      outputPrefix: config.outputPrefix,
      logGroupName: names.logGroupName,
      failureQueueArn,
    }),
    // IMGFN_BUCKET: the function's only bucket, and the record status and teardown read to find it
    environment: functionEnvironment(config, { endpointUrl: where.endpointUrl, bucket: where.bucket }),
    eventInvoke,
  };
}

/** The bucket a deployed function was deployed to (IMGFN_BUCKET in its environment), if it says. */
export function deployedBucket(fn: { Configuration?: { Environment?: { Variables?: Record<string, string> } } } | undefined): string | undefined {
  return fn?.Configuration?.Environment?.Variables?.IMGFN_BUCKET || undefined;
}
