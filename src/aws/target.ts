// PLACEHOLDER (replaced by the aws target work; must not land as is).
import type { Context } from "../commands/command.js";
import type { Config } from "../config.js";
import type { Target } from "../target.js";

export async function awsTarget(_ctx: Context, _config: Config): Promise<Target> {
  throw new Error("the aws target is not implemented yet");
}
