/** Commands are data: a spec per verb, all listed in commands/index.ts, wired by cli.ts. */
import type { Command } from "commander";
import type { Output } from "../ui/output.js";

/** Options every command accepts (AWS CLI style). */
export interface Globals {
  json: boolean;
  yes: boolean;
  debug: boolean;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  config?: string;
}

export interface Context {
  out: Output;
  globals: Globals;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM; long-running commands stop cleanly when it fires. */
  signal: AbortSignal;
}

/** The global options a subcommand's --help lists (see cli.ts). */
export type GlobalFlag = "json" | "yes" | "region" | "profile" | "endpoint-url" | "config";
export const ALL_GLOBALS: GlobalFlag[] = ["json", "yes", "region", "profile", "endpoint-url", "config"];
/** For commands that never call AWS. */
export const LOCAL_GLOBALS: GlobalFlag[] = ["json", "config"];

/** A top-level command as listed in commands/index.ts: the module loads only when it runs. */
export interface LazyCommand {
  /** Name plus arguments in commander syntax, e.g. "predict <files...>". */
  usage: string;
  summary: string;
  /** Other names users bring from other tools (teardown: delete, remove, destroy). */
  aliases?: string[];
  load: () => Promise<CommandSpec>;
}

export interface CommandSpec {
  /** Subcommands only: name plus arguments (top-level commands take theirs from LazyCommand). */
  name?: string;
  description?: string;
  /** Adds options (and help text) to the commander command. */
  options?: (cmd: Command) => void;
  /** Receives positional arguments then the command's own options. */
  run?: (ctx: Context, ...args: any[]) => Promise<void>;
  subcommands?: CommandSpec[];
  /** 2-4 example argument lists for --help, without the program name ("upload --local photos/"). */
  examples?: string[];
  /** Global options that apply, shown in --help (default: all but --yes). */
  globals?: GlobalFlag[];
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}
