/** The image repository: scan on push, a lifecycle rule keeping the last images, imgfn's tags. */
import {
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  GetLifecyclePolicyCommand,
  ListTagsForResourceCommand,
  PutImageScanningConfigurationCommand,
  PutLifecyclePolicyCommand,
  type ECRClient,
  type Repository,
} from "@aws-sdk/client-ecr";
import { registryAuthFromEcrToken, type RegistryAuth } from "../image/index.js";
import { UserError } from "../errors.js";
import { hasName, tolerating } from "./errors.js";
import { type Outcome, outcome } from "./outcome.js";

/** Images kept by the lifecycle rule (older ones expire; the function pins a digest). */
export const IMAGES_TO_KEEP = 10;

export function lifecyclePolicy(keep = IMAGES_TO_KEEP): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `imgfn: keep the last ${keep} images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
        action: { type: "expire" },
      },
    ],
  });
}

export async function describeRepository(ecr: ECRClient, name: string): Promise<Repository | undefined> {
  return (await tolerating(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] })), "RepositoryNotFoundException"))?.repositories?.[0];
}

export interface RepositoryRequest {
  name: string;
  tags: Record<string, string>;
}

export async function ensureRepository(ecr: ECRClient, req: RepositoryRequest, opts: { dryRun?: boolean } = {}): Promise<Outcome & { repositoryUri?: string }> {
  const existing = await describeRepository(ecr, req.name);
  const tagList = Object.entries(req.tags).map(([Key, Value]) => ({ Key, Value }));
  if (!existing) {
    const changes = ["scan on push", `keeps the last ${IMAGES_TO_KEEP} images`];
    if (opts.dryRun) return outcome("create", changes);
    let repo: Repository | undefined;
    try {
      const res = await ecr.send(new CreateRepositoryCommand({ repositoryName: req.name, imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: "MUTABLE", tags: tagList }));
      repo = res.repository;
    } catch (err) {
      if (!hasName(err, "RepositoryAlreadyExistsException")) throw err;
      repo = await describeRepository(ecr, req.name);
    }
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: req.name, lifecyclePolicyText: lifecyclePolicy() }));
    return { ...outcome("create", changes), repositoryUri: repo?.repositoryUri };
  }
  // a repository without imgfn's tags is someone else's: adopting it would install the keep-10
  // lifecycle rule (expiring their images) and let a later teardown delete it
  const tags = await repositoryTags(ecr, existing.repositoryArn!);
  if (tagList.some((t) => tags[t.Key] !== t.Value)) {
    throw new UserError(`ECR repository ${req.name} exists but is not tagged as imgfn's; imgfn changes only what carries its tags`, {
      hint: `choose another "app" name in imgfn.config.json; or, if imgfn may take it over (its images then expire after the last ${IMAGES_TO_KEEP}, and teardown deletes it), tag it: aws ecr tag-resource --resource-arn ${existing.repositoryArn} --tags ${tagList.map((t) => `Key=${t.Key},Value=${t.Value}`).join(" ")}`,
    });
  }
  const changes: string[] = [];
  if (!existing.imageScanningConfiguration?.scanOnPush) {
    changes.push("scan on push enabled");
    if (!opts.dryRun) await ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: req.name, imageScanningConfiguration: { scanOnPush: true } }));
  }
  const currentPolicy = (await tolerating(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: req.name })), "LifecyclePolicyNotFoundException"))?.lifecyclePolicyText;
  if (!currentPolicy || JSON.stringify(JSON.parse(currentPolicy)) !== lifecyclePolicy()) {
    changes.push("lifecycle rule set");
    if (!opts.dryRun) await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: req.name, lifecyclePolicyText: lifecyclePolicy() }));
  }
  return { ...outcome(changes.length ? "update" : "unchanged", changes), repositoryUri: existing.repositoryUri };
}

export async function repositoryTags(ecr: ECRClient, arn: string): Promise<Record<string, string>> {
  const res = await ecr.send(new ListTagsForResourceCommand({ resourceArn: arn }));
  return Object.fromEntries((res.tags ?? []).map((t) => [t.Key!, t.Value ?? ""]));
}

/** Registry credentials from GetAuthorizationToken (valid 12 hours; fetched once per deploy). */
export async function registryLogin(ecr: ECRClient): Promise<RegistryAuth & { endpoint?: string }> {
  const res = await ecr.send(new GetAuthorizationTokenCommand({}));
  const data = res.authorizationData?.[0];
  if (!data?.authorizationToken) throw new Error("ECR returned no authorization token");
  return { ...registryAuthFromEcrToken(data.authorizationToken), endpoint: data.proxyEndpoint };
}

/** The repository to push to: ECR's URI, or the same path on another registry host (--registry, or the login's proxyEndpoint). */
export function pushRepository(repositoryUri: string, registry?: string): string {
  if (!registry) return repositoryUri;
  const path = repositoryUri.slice(repositoryUri.indexOf("/") + 1);
  return `${registry.replace(/^https?:\/\//, "").replace(/\/+$/, "")}/${path}`;
}

/** Deletes the repository and its images, if it is imgfn's (tagged managed-by imgfn). */
export async function deleteRepository(ecr: ECRClient, name: string, ownTags: Record<string, string>, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const repo = await describeRepository(ecr, name);
  if (!repo) return outcome("absent");
  const tags = await repositoryTags(ecr, repo.repositoryArn!);
  if (!Object.entries(ownTags).every(([k, v]) => tags[k] === v)) return outcome("skip", ["not tagged as imgfn's; left alone"]);
  if (!opts.dryRun) await tolerating(ecr.send(new DeleteRepositoryCommand({ repositoryName: name, force: true })), "RepositoryNotFoundException");
  return outcome("delete", ["with its images"]);
}
