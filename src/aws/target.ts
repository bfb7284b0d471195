/** The deployed pipeline as a Target: the configured bucket and the function's CloudWatch logs. */
import type { Context } from "../commands/command.js";
import { bucketName, type Config, resourceNames } from "../config.js";
import type { Target } from "../target.js";
import { InvokeCommand } from "@aws-sdk/client-lambda";
import { UserError } from "../errors.js";
import { createClients } from "./clients.js";
import { deployedBucket } from "./desired.js";
import { FailureQueue } from "./failed-queue.js";
import { hasName, withAwsErrors } from "./errors.js";
import { getFunction } from "./lambda.js";
import { CloudWatchLogSource } from "./logs.js";
import { callerIdentity } from "./sts.js";

export async function awsTarget(ctx: Context, config: Config): Promise<Target> {
  const clients = await createClients(ctx.globals, config, { env: ctx.env });
  const names = resourceNames(config);
  // where the deployed function listens (deploy --bucket records it), else the config's bucket
  const recorded = deployedBucket(await getFunction(clients.lambda, names.functionName).catch(() => undefined));
  const bucket = recorded ?? config.bucket ?? bucketName(config, (await withAwsErrors(() => callerIdentity(clients.sts), ctx.globals)).account, clients.region);
  let failures: FailureQueue | undefined;
  return {
    kind: "aws",
    description: `AWS ${clients.region} (s3://${bucket})`,
    config,
    bucket,
    region: clients.region,
    s3: clients.s3,
    logs: new CloudWatchLogSource(clients.logs, names.logGroupName, { onNotice: (m) => ctx.out.info(m) }),
    get failures() {
      return (failures ??= new FailureQueue(clients.sqs, names.failureQueueName));
    },
    async invokeAsync(event) {
      const res = await clients.lambda
        .send(new InvokeCommand({ FunctionName: names.functionName, InvocationType: "Event", Payload: Buffer.from(JSON.stringify(event)) }), { abortSignal: ctx.signal })
        .catch((err) => {
          if (!hasName(err, "ResourceNotFoundException")) throw err;
          throw new UserError(`function ${names.functionName} does not exist in ${clients.region}`, { hint: `run "imgfn deploy" first`, cause: err });
        });
      // 202 Accepted: Lambda queued it, with the function's retries and failure destination
      if (res.StatusCode !== 202) throw new UserError(`Lambda did not accept the asynchronous invocation of ${names.functionName} (status ${res.StatusCode})`);
    },
  };
}
