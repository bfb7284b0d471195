import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CONFIG_FILE, DEFAULTS, defaultApp, validateConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { defineCommand } from "./command.js";
import { configFlags, configOverrides } from "./deploy.js";

export const initCommand = defineCommand({
  examples: ["init", "init --app cats --region eu-west-1", "init --memory 2048 --suffixes .jpg,.png --force", "init --model my-model.onnx --labels labels.txt"],
  globals: ["json", "region", "config"],
  options: (cmd) => {
    configFlags(cmd);
    cmd.option("-m, --model <path>", "model manifest (.json) or .onnx (default: bundled MobileNetV2)").option("--labels <file>", "labels for a bare .onnx").option("--force", `overwrite an existing ${CONFIG_FILE}`);
  },
  async run(ctx, opts) {
    const path = ctx.globals.config ? resolve(ctx.cwd, ctx.globals.config) : join(ctx.cwd, CONFIG_FILE);
    if (existsSync(path) && !opts.force) throw new ConfigError(`${path} already exists`, { code: "CONFIG_EXISTS", hint: "edit it, or run imgfn init --force to overwrite it" });
    const given = Object.fromEntries(Object.entries(configOverrides(opts, ctx.globals)).filter(([, v]) => v !== undefined));
    const app = (given.app as string | undefined) ?? defaultApp(ctx.cwd);
    const raw: Record<string, unknown> = {
      app,
      ...(given.region ? { region: given.region } : {}),
      inputPrefix: DEFAULTS.inputPrefix,
      outputPrefix: DEFAULTS.outputPrefix,
      memory: DEFAULTS.memory,
      timeout: DEFAULTS.timeout,
      architecture: DEFAULTS.architecture,
      ...given,
    };
    const config = validateConfig(raw, ctx.cwd, "flags", new Set(Object.keys(given))); // refuse bad values before writing anything, naming the flag
    const file: Record<string, unknown> = { ...raw, inputPrefix: config.inputPrefix, outputPrefix: config.outputPrefix };
    // keep model paths as the user typed them (relative to the config file)
    writeFileSync(path, JSON.stringify(file, null, 2) + "\n");
    ctx.out.result({ path, config: file });
    ctx.out.print(`Wrote ${path} (app "${app}"). Next: ${ctx.out.cmd("deploy --dry-run")}, then ${ctx.out.cmd("deploy")}`);
  },
});
