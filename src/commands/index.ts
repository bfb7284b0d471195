/** Every command imgfn has, in the order `imgfn --help` lists them. */
import type { CommandSpec } from "./command.js";
import { modelCommand } from "./model.js";
import { predictCommand } from "./predict.js";

export const commands: CommandSpec[] = [
  predictCommand,
  modelCommand,
];
