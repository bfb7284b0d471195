/**
 * The commander program: global options, one line per command (from commands/index.ts), and the
 * single place where errors become messages and exit codes (through ui/errors.ts).
 */
import { Command, CommanderError, Help, Option } from "commander";
import { commands } from "./commands/index.js";
import { type CommandSpec, type Context, type GlobalFlag, type Globals, ALL_GLOBALS } from "./commands/command.js";
import { packageRoot } from "./paths.js";
import { describeError, errorDocument } from "./ui/errors.js";
import { detectInvocation, runnable } from "./ui/invocation.js";
import { Output, type OutputOptions } from "./ui/output.js";

export interface MainOptions extends OutputOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

const VERSION = "0.1.0";

/** The long flag of each global option, as commander names them in help. */
const GLOBAL_FLAGS: Record<GlobalFlag, string> = { json: "--json", yes: "--yes", region: "--region", profile: "--profile", "endpoint-url": "--endpoint-url", config: "--config" };

export async function main(argv: string[], io: MainOptions = {}): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const args = argv === process.argv ? argv.slice(2) : argv;
  const wantsJson = jsonRequested(args);
  const invocation = io.invocation ?? detectInvocation({ script: process.argv[1], cwd, env, packageRoot: packageRoot() });
  let out = new Output({ ...io, env, invocation, json: wantsJson });
  const controller = new AbortController();
  io.signal?.addEventListener("abort", () => controller.abort(io.signal!.reason));
  // A reader that went away (`imgfn logs --json | head -3`) is not an error: stop quietly.
  let pipeClosed = false;
  const stdout = io.stdout ?? process.stdout;
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
    pipeClosed = true;
    controller.abort(err);
  };
  stdout.on("error", onStdoutError);

  const program = new Command("imgfn")
    .description("Image classification on AWS Lambda: build, deploy, upload, verify")
    .option("-v, --version", "print the version (with --json: {\"version\"})")
    .option("--json", "machine-readable output on stdout: one JSON document, errors included", false)
    .option("-y, --yes", "answer yes to confirmations (needed without a terminal)", false)
    .option("--region <region>", "AWS region (default: from the environment or profile)")
    .option("--profile <name>", "AWS shared config profile")
    .option("--endpoint-url <url>", "send every AWS call to this endpoint (LocalStack, any AWS-compatible emulator)")
    .option("-c, --config <file>", "config file (default: ./imgfn.config.json)")
    .addOption(new Option("--debug", "print stack traces").default(false).hideHelp())
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({
      showGlobalOptions: true,
      // each subcommand's help lists the global options that apply to it (CommandSpec.globals)
      visibleGlobalOptions(cmd: Command) {
        const applies: GlobalFlag[] | undefined = (cmd as any)._imgfnGlobals;
        const all = Help.prototype.visibleGlobalOptions.call(this, cmd);
        return applies ? all.filter((o) => applies.some((g) => o.long === GLOBAL_FLAGS[g])) : all;
      },
    })
    .configureOutput({
      writeOut: (s) => stdout.write(s),
      // under --json, usage errors become the JSON error document below; stderr keeps the text
      writeErr: (s) => (io.stderr ?? process.stderr).write(s),
    })
    .exitOverride();
  program.on("option:version", () => {
    out.flush({ value: { version: VERSION } });
    if (!out.json) stdout.write(VERSION + "\n");
    throw new CommanderError(0, "imgfn.version", VERSION);
  });

  let debug = false;
  const register = (parent: Command, spec: CommandSpec, usage = spec.name!, summary = spec.description!, aliases: string[] = []) => {
    const cmd = parent.command(usage).description(summary);
    for (const alias of aliases) cmd.alias(alias);
    (cmd as any)._imgfnGlobals = spec.globals ?? ALL_GLOBALS.filter((g) => g !== "yes");
    spec.options?.(cmd);
    if (spec.examples?.length) cmd.addHelpText("after", `\nExamples:\n${spec.examples.map((e) => `  $ ${invocation} ${runnable(e, invocation)}`).join("\n")}\n`);
    for (const sub of spec.subcommands ?? []) register(cmd, sub);
    if (spec.run) {
      cmd.action(async (...actionArgs: any[]) => {
        const command = actionArgs.at(-1) as Command;
        const globals = command.optsWithGlobals() as Globals;
        debug = globals.debug;
        out = new Output({ ...io, env, invocation, json: globals.json });
        const ctx: Context = { out, globals, cwd, env, signal: controller.signal };
        await spec.run!(ctx, ...actionArgs.slice(0, -2), command.opts());
      });
    }
  };
  try {
    // Only the command being run is loaded; the others are listed for --help by usage and summary.
    const invoked = invokedCommand(args);
    for (const entry of commands) {
      const names = [entry.usage.split(" ")[0], ...(entry.aliases ?? [])];
      if (invoked && names.includes(invoked)) register(program, await entry.load(), entry.usage, entry.summary, entry.aliases);
      else program.command(entry.usage).description(entry.summary).aliases(entry.aliases ?? []);
    }
    await program.parseAsync(argv, { from: argv === process.argv ? "node" : "user" });
    out.flush();
    return 0;
  } catch (err) {
    if (pipeClosed) return 0;
    return reportError(err, out, debug);
  }
  // the listener stays: a write's EPIPE can arrive after main() has returned
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

/** --json before commander has parsed anything (usage errors must answer in JSON too). */
function jsonRequested(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes("--json");
}

function reportError(err: unknown, out: Output, debug: boolean): number {
  const d = describeError(err);
  if (d.exitCode === 0) {
    out.flush(); // --help, --version
    return 0;
  }
  if (out.json) {
    // a result that already says what failed (each item's error, a golden report) stays; any
    // other error replaces it
    if (d.resultStands && out.hasResult) out.flush();
    else out.flush({ value: errorDocument(d) });
  }
  // commander already printed its usage message
  if (!(err instanceof CommanderError)) {
    out.error(d.message);
    if (d.code === "INTERNAL") {
      if (debug) out.stderr.write(`${d.stack}\n`);
      else out.stderr.write("  (run again with --debug for the stack trace)\n");
    } else {
      if (d.next) out.stderr.write(`  next step: ${out.runnable(d.next)}\n`);
      if (debug && d.stack) out.stderr.write(`${d.stack}\n`);
    }
  }
  return d.exitCode;
}
