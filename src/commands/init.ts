import { existsSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { CONFIG_FILE, DEFAULTS, validateConfig } from "../config.js";
import { UserError } from "../errors.js";
import { defineCommand } from "./command.js";
import { configFlags, configOverrides } from "./deploy.js";

export const initCommand = defineCommand({
  options: (cmd) => {
    configFlags(cmd);
    cmd.option("-m, --model <path>", "model manifest (.json) or .onnx (default: bundled MobileNetV2)").option("--labels <file>", "labels for a bare .onnx").option("--force", `overwrite an existing ${CONFIG_FILE}`);
  },
  async run(ctx, opts) {
    const path = ctx.globals.config ? resolve(ctx.cwd, ctx.globals.config) : join(ctx.cwd, CONFIG_FILE);
    if (existsSync(path) && !opts.force) throw new UserError(`${path} already exists`, { hint: "edit it, or run imgfn init --force to overwrite it" });
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
    const config = validateConfig(raw, ctx.cwd, "flags"); // refuse bad values before writing anything
    const file: Record<string, unknown> = { ...raw, inputPrefix: config.inputPrefix, outputPrefix: config.outputPrefix };
    // keep model paths as the user typed them (relative to the config file)
    writeFileSync(path, JSON.stringify(file, null, 2) + "\n");
    ctx.out.result({ path, config: file });
    ctx.out.print(`Wrote ${path} (app "${app}"). Next: imgfn deploy --dry-run, then imgfn deploy`);
  },
});

/** The folder's name, made into a valid app name. */
export function defaultApp(cwd: string): string {
  const name = basename(cwd).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  return /^[a-z0-9]/.test(name) ? name : "imgfn";
}
