/** The deployed pipeline as a Target: the configured bucket and the function's CloudWatch logs. */
import type { Context } from "../commands/command.js";
import { bucketName, type Config, resourceNames } from "../config.js";
import type { Target } from "../target.js";
import { createClients } from "./clients.js";
import { deployedBucket } from "./desired.js";
import { getFunction } from "./lambda.js";
import { withAwsErrors } from "./errors.js";
import { CloudWatchLogSource } from "./logs.js";
import { callerIdentity } from "./sts.js";

export async function awsTarget(ctx: Context, config: Config): Promise<Target> {
  const clients = await createClients(ctx.globals, config, { env: ctx.env });
  // where the deployed function listens (deploy --bucket records it), else the config's bucket
  const recorded = deployedBucket(await getFunction(clients.lambda, resourceNames(config).functionName).catch(() => undefined));
  const bucket = recorded ?? config.bucket ?? bucketName(config, (await withAwsErrors(() => callerIdentity(clients.sts), ctx.globals)).account, clients.region);
  return {
    kind: "aws",
    description: `AWS ${clients.region} (s3://${bucket})`,
    config,
    bucket,
    s3: clients.s3,
    logs: new CloudWatchLogSource(clients.logs, resourceNames(config).logGroupName, { onNotice: (m) => ctx.out.info(m) }),
  };
}
