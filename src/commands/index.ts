/** Every command imgfn has, in the order `imgfn --help` lists them. */
import type { CommandSpec } from "./command.js";
import { buildCommand } from "./build.js";
import { deployCommand } from "./deploy.js";
import { initCommand } from "./init.js";
import { modelCommand } from "./model.js";
import { predictCommand } from "./predict.js";
import { statusCommand } from "./status.js";
import { teardownCommand } from "./teardown.js";

export const commands: CommandSpec[] = [
  initCommand,
  buildCommand,
  deployCommand,
  statusCommand,
  teardownCommand,
  predictCommand,
  modelCommand,
];
