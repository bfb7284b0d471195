/**
 * Image references: "public.ecr.aws/lambda/nodejs:22", "127.0.0.1:5000/app@sha256:…", "node:22"
 * (Docker Hub). Split into registry host, repository and tag or digest.
 */
export interface ImageReference {
  /** host[:port] as used in URLs (Docker Hub → registry-1.docker.io). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseReference(ref: string): ImageReference {
  let rest = ref.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`image reference ${ref}: bad digest ${digest}`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split("/")[0];
  let registry: string;
  let repository: string;
  // Like docker: the first component is a host when it has a dot or port, or is localhost.
  if (rest.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    repository = rest.slice(first.length + 1);
  } else {
    registry = "registry-1.docker.io";
    repository = rest.includes("/") ? rest : `library/${rest}`;
  }
  if (registry === "docker.io" || registry === "index.docker.io") registry = "registry-1.docker.io";
  if (!repository || !/^[a-z0-9]+(?:[._\-/][a-z0-9]+)*$/.test(repository)) throw new Error(`image reference ${ref}: bad repository name "${repository}"`);
  if (tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(tag)) throw new Error(`image reference ${ref}: bad tag "${tag}"`);
  if (!tag && !digest) tag = "latest";
  return { registry, repository, tag, digest };
}

export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.digest ? `@${r.digest}` : r.tag ? `:${r.tag}` : ""}`;
}

/** The repository part of "host/repo" (no tag), as BuildRequest.repository carries it. */
export function parseRepository(repo: string): ImageReference {
  const r = parseReference(repo);
  if (r.digest || (r.tag && r.tag !== "latest") || /:[\w.-]+$/.test(repo.split("/").slice(1).join("/"))) {
    throw new Error(`--push wants a repository without tag or digest (got ${repo})`);
  }
  return { registry: r.registry, repository: r.repository };
}

/**
 * Registries on loopback speak plain HTTP unless told otherwise (like docker's insecure default):
 * localhost and any *.localhost name (RFC 6761; LocalStack's ECR hosts are
 * *.localhost.localstack.cloud), 127.0.0.0/8 and ::1.
 */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "localhost.localstack.cloud" || host.endsWith(".localhost.localstack.cloud") || host === "::1" || /^127\./.test(host);
}

/** Lambda says x86_64/arm64; OCI platforms say amd64/arm64; Node says x64/arm64. */
export function ociArch(arch: "x86_64" | "arm64"): "amd64" | "arm64" {
  return arch === "x86_64" ? "amd64" : "arm64";
}
export function nodeArch(arch: "x86_64" | "arm64"): "x64" | "arm64" {
  return arch === "x86_64" ? "x64" : "arm64";
}
