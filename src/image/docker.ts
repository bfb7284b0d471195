/** The docker builder: docker buildx build --push, then the same preflight as the oci builder. */
import type { BuildRequest, BuildResult, ImageBuilder } from "./builder.js";

export class DockerBuilder implements ImageBuilder {
  readonly name = "docker" as const;
  constructor(private readonly opts: { env?: NodeJS.ProcessEnv } = {}) {}
  async build(_request: BuildRequest): Promise<BuildResult> {
    throw new Error("the docker builder is not implemented yet");
  }
}
