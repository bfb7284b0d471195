/** Every command imgfn has, in the order `imgfn --help` lists them. */
import type { CommandSpec } from "./command.js";
import { buildCommand } from "./build.js";
import { demoCommand } from "./demo.js";
import { deployCommand } from "./deploy.js";
import { devCommand } from "./dev.js";
import { initCommand } from "./init.js";
import { invokeCommand } from "./invoke.js";
import { logsCommand } from "./logs.js";
import { modelCommand } from "./model.js";
import { predictCommand } from "./predict.js";
import { statusCommand } from "./status.js";
import { teardownCommand } from "./teardown.js";
import { uploadCommand } from "./upload.js";

export const commands: CommandSpec[] = [
  initCommand,
  demoCommand,
  devCommand,
  buildCommand,
  deployCommand,
  uploadCommand,
  logsCommand,
  invokeCommand,
  statusCommand,
  teardownCommand,
  predictCommand,
  modelCommand,
];
