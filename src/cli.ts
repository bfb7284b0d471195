/**
 * The commander program: global options, one line per command (from commands/index.ts), and the
 * single place where errors become messages and exit codes.
 */
import { Command, CommanderError, Option } from "commander";
import { commands } from "./commands/index.js";
import type { CommandSpec, Context, Globals } from "./commands/command.js";
import { PartialFailure, UserError } from "./errors.js";
import { Output, type OutputOptions } from "./ui/output.js";

export interface MainOptions extends OutputOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

const VERSION = "0.1.0";

export async function main(argv: string[], io: MainOptions = {}): Promise<number> {
  const env = io.env ?? process.env;
  let out = new Output(io);
  const controller = new AbortController();
  io.signal?.addEventListener("abort", () => controller.abort(io.signal!.reason));

  const program = new Command("imgfn")
    .description("Image classification on AWS Lambda: build, deploy, upload, verify")
    .version(VERSION, "-v, --version")
    .option("--json", "machine-readable output on stdout", false)
    .option("-y, --yes", "answer yes to confirmations", false)
    .option("--region <region>", "AWS region (default: from the environment or profile)")
    .option("--profile <name>", "AWS shared config profile")
    .option("--endpoint-url <url>", "send every AWS call to this endpoint (LocalStack, any AWS-compatible emulator)")
    .option("-c, --config <file>", "config file (default: ./imgfn.config.json)")
    .addOption(new Option("--debug", "print stack traces").default(false).hideHelp())
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => (io.stdout ?? process.stdout).write(s),
      writeErr: (s) => (io.stderr ?? process.stderr).write(s),
    })
    .exitOverride();

  let debug = false;
  const register = (parent: Command, spec: CommandSpec, usage = spec.name!, summary = spec.description!) => {
    const cmd = parent.command(usage).description(summary);
    spec.options?.(cmd);
    for (const sub of spec.subcommands ?? []) register(cmd, sub);
    if (spec.run) {
      cmd.action(async (...args: any[]) => {
        const command = args.at(-1) as Command;
        const globals = command.optsWithGlobals() as Globals;
        debug = globals.debug;
        out = new Output({ ...io, json: globals.json });
        const ctx: Context = { out, globals, cwd: io.cwd ?? process.cwd(), env, signal: controller.signal };
        await spec.run!(ctx, ...args.slice(0, -2), command.opts());
      });
    }
  };
  try {
    // Only the command being run is loaded; the others are listed for --help by usage and summary.
    const invoked = invokedCommand(argv === process.argv ? argv.slice(2) : argv);
    for (const entry of commands) {
      if (entry.usage.split(" ")[0] === invoked) register(program, await entry.load(), entry.usage, entry.summary);
      else program.command(entry.usage).description(entry.summary);
    }
    await program.parseAsync(argv, { from: argv === process.argv ? "node" : "user" });
    return 0;
  } catch (err) {
    return reportError(err, out, debug);
  }
}

/** Global options that take a value; everything else starting with "-" is a flag. */
const GLOBAL_VALUE_OPTIONS = new Set(["--region", "--profile", "--endpoint-url", "-c", "--config"]);

/** The command word in argv (skipping global options), or the one after "help". */
function invokedCommand(args: string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const arg = args[i];
    if (arg === "--") break;
    if (arg.startsWith("-")) {
      if (GLOBAL_VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    words.push(arg);
  }
  return words[0] === "help" ? words[1] : words[0];
}

function reportError(err: unknown, out: Output, debug: boolean): number {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors were already printed.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof PartialFailure) {
    out.error(err.message);
    return err.exitCode;
  }
  if (err instanceof UserError) {
    out.error(err.message);
    if (err.hint) out.stderr.write(`  next step: ${err.hint}\n`);
    if (debug && err.cause) out.stderr.write(`${(err.cause as Error)?.stack ?? err.cause}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  if (e?.name === "AbortError") {
    out.error("interrupted");
    return 130;
  }
  out.error(e?.message ?? String(err));
  if (debug) out.stderr.write(`${e?.stack}\n`);
  else out.stderr.write("  (run again with --debug for the stack trace)\n");
  return 1;
}
