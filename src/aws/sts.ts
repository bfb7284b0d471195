/** Who and where: the account and partition the credentials belong to. */
import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";

export interface Identity {
  account: string;
  arn: string;
  /** aws, aws-cn, aws-us-gov: used in every ARN imgfn writes. */
  partition: string;
}

export async function callerIdentity(sts: STSClient): Promise<Identity> {
  const res = await sts.send(new GetCallerIdentityCommand({}));
  const arn = res.Arn ?? "";
  return { account: res.Account ?? "", arn, partition: arn.split(":")[1] || "aws" };
}
