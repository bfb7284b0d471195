/**
 * One factory for every AWS client imgfn uses, so the global options (AWS CLI style) reach all of
 * them: region, profile, --endpoint-url (LocalStack or any AWS-compatible emulator; S3 then uses
 * path-style addressing) and the SDK's default credential chain. Each client translates the
 * errors a user can act on (errors.ts) on the way out.
 */
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { ECRClient } from "@aws-sdk/client-ecr";
import { IAMClient } from "@aws-sdk/client-iam";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { STSClient } from "@aws-sdk/client-sts";
import type { Globals } from "../commands/command.js";
import type { Config } from "../config.js";
import { translateAwsError } from "./errors.js";
import { UserError } from "../errors.js";

export interface AwsOptions {
  region: string;
  profile?: string;
  endpointUrl?: string;
  /** Registry host[:port] to push images to instead of the one ECR names (emulators, proxies). */
  registry?: string;
}

type AnyClient = { middlewareStack: { add: (...args: any[]) => void } };

export class AwsClients {
  private cache = new Map<string, unknown>();
  constructor(readonly options: AwsOptions) {}

  get region(): string {
    return this.options.region;
  }

  private common() {
    const { region, profile, endpointUrl } = this.options;
    return { region, ...(profile ? { profile } : {}), ...(endpointUrl ? { endpoint: endpointUrl } : {}) };
  }

  private make<T extends AnyClient>(key: string, service: string, create: () => T): T {
    let client = this.cache.get(key) as T | undefined;
    if (!client) {
      client = create();
      addErrorTranslation(client, service, this.options);
      this.cache.set(key, client);
    }
    return client;
  }

  get s3(): S3Client {
    return this.make("s3", "s3", () => new S3Client({ ...this.common(), ...(this.options.endpointUrl ? { forcePathStyle: true } : {}) }));
  }
  get ecr(): ECRClient {
    return this.make("ecr", "ecr", () => new ECRClient(this.common()));
  }
  get lambda(): LambdaClient {
    return this.make("lambda", "lambda", () => new LambdaClient(this.common()));
  }
  get iam(): IAMClient {
    return this.make("iam", "iam", () => new IAMClient(this.common()));
  }
  get logs(): CloudWatchLogsClient {
    return this.make("logs", "logs", () => new CloudWatchLogsClient(this.common()));
  }
  get sqs(): SQSClient {
    return this.make("sqs", "sqs", () => new SQSClient(this.common()));
  }
  get sts(): STSClient {
    return this.make("sts", "sts", () => new STSClient(this.common()));
  }

  /** Every client created so far (tests check each one's endpoint). */
  all(): AnyClient[] {
    return [this.s3, this.ecr, this.lambda, this.iam, this.logs, this.sqs, this.sts] as AnyClient[];
  }
}

/** Translates AccessDenied/credential errors with the operation's IAM action name ("s3:PutObject"). */
function addErrorTranslation(client: AnyClient, service: string, opts: AwsOptions): void {
  client.middlewareStack.add(
    (next: any, context: any) => async (args: any) => {
      try {
        return await next(args);
      } catch (err) {
        const operation = context?.commandName ? `${service}:${String(context.commandName).replace(/Command$/, "")}` : undefined;
        throw translateAwsError(err, { operation, profile: opts.profile, endpointUrl: opts.endpointUrl });
      }
    },
    { step: "initialize", name: "imgfnErrorTranslation", priority: "high" },
  );
}

/**
 * The region, in AWS CLI order: --region, the config file, then the SDK's chain (AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's region in ~/.aws/config).
 */
export async function resolveRegion(globals: Pick<Globals, "region" | "profile">, config?: Pick<Config, "region">, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  // an empty variable (AWS_REGION= in a CI file) counts as unset, as in the AWS CLI
  const explicit = globals.region || config?.region || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (explicit) return explicit;
  try {
    const probe = new STSClient(globals.profile ? { profile: globals.profile } : {});
    const region = await probe.config.region();
    probe.destroy();
    if (region) return region;
  } catch {
    // fall through to the error below
  }
  throw new UserError("no AWS region configured", { hint: `pass --region, set "region" in imgfn.config.json (imgfn init --region …), or set AWS_REGION` });
}

export async function createClients(globals: Globals, config?: Config, extra: { registry?: string; env?: NodeJS.ProcessEnv } = {}): Promise<AwsClients> {
  const region = await resolveRegion(globals, config, extra.env);
  return new AwsClients({ region, profile: globals.profile, endpointUrl: globals.endpointUrl, registry: extra.registry });
}
