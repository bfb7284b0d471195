// PLACEHOLDER (replaced by the local target work; must not land as is).
import type { Context } from "../commands/command.js";
import type { Config } from "../config.js";
import type { Target } from "../target.js";

export async function localTarget(_ctx: Context, _config: Config): Promise<Target> {
  throw new Error("the local target is not implemented yet");
}
