/** The daemonless builder: writes layers and config itself and pushes them to a registry. */
import type { BuildRequest, BuildResult, ImageBuilder } from "./builder.js";

export class OciBuilder implements ImageBuilder {
  readonly name = "oci" as const;
  constructor(private readonly opts: { env?: NodeJS.ProcessEnv } = {}) {}
  async build(_request: BuildRequest): Promise<BuildResult> {
    throw new Error("the oci builder is not implemented yet");
  }
}
