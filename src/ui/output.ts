/**
 * Everything that prints goes through Output: results to stdout, diagnostics to stderr, nothing
 * but JSON on stdout under --json, spinners and colours only on a TTY (NO_COLOR respected).
 */
import { Writable } from "node:stream";
import ora, { type Ora } from "ora";
import pc from "picocolors";
import { bar } from "./progress.js";
import { table as fitTable, type TableOptions } from "./table.js";
import { displayWidth, truncate } from "./width.js";
import { runnable } from "./invocation.js";
import { canAnimate, terminalColumns } from "./terminal.js";

export { table } from "./table.js";

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  stdout?: Writable;
  stderr?: Writable;
  /** Force spinners on or off (tests); defaults to canAnimate(stderr): a TTY with a known width, not CI. */
  interactive?: boolean;
  color?: boolean;
  /** Columns tables may use (default: stdout's terminal width, or COLUMNS; none = no limit). */
  columns?: number;
  env?: NodeJS.ProcessEnv;
  /** How to run imgfn here ("npx imgfn", "imgfn", "node bin/imgfn.js"); see ui/invocation.ts. */
  invocation?: string;
}

export class Output {
  readonly json: boolean;
  readonly interactive: boolean;
  readonly color: boolean;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly columns: number | undefined;
  readonly invocation: string;
  private readonly quiet: boolean;
  private pending: { value: unknown } | undefined;

  constructor(opts: OutputOptions = {}) {
    const env = opts.env ?? process.env;
    this.json = opts.json ?? false;
    this.quiet = opts.quiet ?? false;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    this.interactive = opts.interactive ?? canAnimate(this.stderr, env);
    const tty = Boolean((this.stderr as NodeJS.WriteStream).isTTY);
    this.color = opts.color ?? (tty && !env.NO_COLOR && env.TERM !== "dumb");
    this.columns = opts.columns ?? terminalColumns(this.stdout, env);
    this.invocation = opts.invocation ?? "imgfn";
  }

  /** A command line to print as a next step, in the form that runs here: cmd("deploy") → "npx imgfn deploy". */
  cmd(args: string): string {
    return `${this.invocation} ${args}`;
  }

  /** A hint whose `imgfn <command>` mentions are rewritten to run here. */
  runnable(text: string): string {
    return runnable(text, this.invocation);
  }

  /** A table that fits the terminal (see ui/table.ts). */
  table(rows: string[][], opts: TableOptions = {}): string {
    return fitTable(rows, { width: this.columns, ...opts });
  }

  get c() {
    return pc.createColors(this.color);
  }

  /** A human result line on stdout (suppressed under --json). */
  print(line = ""): void {
    if (!this.json) this.stdout.write(line + "\n");
  }

  /**
   * The machine result under --json. Held until the command ends (cli.ts calls flush), so that
   * an error thrown after it replaces it: stdout carries exactly one document either way.
   */
  result(value: unknown): void {
    if (this.json) this.pending = { value };
  }

  /** True when a result is waiting to be written. */
  get hasResult(): boolean {
    return this.pending !== undefined;
  }

  /** Writes the held result (or `replacement`, e.g. the error document) and forgets it. */
  flush(replacement?: { value: unknown }): void {
    const doc = replacement ?? this.pending;
    this.pending = undefined;
    if (this.json && doc) this.stdout.write(JSON.stringify(doc.value, null, 2) + "\n");
  }

  /** Diagnostics on stderr; quiet under --json unless it is a warning or an error. */
  info(line: string): void {
    if (!this.json && !this.quiet) this.stderr.write(line + "\n");
  }
  warn(line: string): void {
    this.stderr.write(this.c.yellow("warning: ") + line + "\n");
  }
  error(line: string): void {
    this.stderr.write(this.c.red("error: ") + line + "\n");
  }

  /**
   * A step with a spinner where the terminal can redraw, a plain "✔ … (0.1s)" line otherwise.
   * The callback's return value is passed through; the handle may set the closing text and
   * whether the step ended well (`done(text, "warn")` when part of it failed).
   */
  async step<T>(title: string, fn: (s: StepHandle) => Promise<T>): Promise<T> {
    const handle = new StepHandle(this, title);
    try {
      const value = await fn(handle);
      handle.finish("ok");
      return value;
    } catch (err) {
      handle.finish("fail");
      throw err;
    }
  }
}

export type StepState = "ok" | "warn" | "fail";

/** Plain progress lines: at most one per tenth of the work, so a long run prints ~10 lines. */
const PLAIN_STEPS = 10;

export class StepHandle {
  private spinner?: Ora;
  private outcome?: string;
  private state?: StepState;
  private plainBucket = -1;
  private readonly started = performance.now();

  constructor(
    private readonly out: Output,
    private title: string,
  ) {
    if (out.interactive && !out.json) {
      // we have decided that this terminal animates (ui/terminal.ts); ora would decide again from
      // CI and isTTY on its own, and disagree with a forced choice
      this.spinner = ora({ text: title, stream: out.stderr as NodeJS.WriteStream, color: "cyan", isEnabled: true }).start();
    }
  }

  /** Updates the live text (e.g. "waiting for the role to propagate (12s)"); plain output shows only the end. */
  update(text: string): void {
    if (this.spinner) this.live(`${this.title} — ${text}`);
  }

  /** The spinner's line, kept to one terminal line (ora redraws by counting wrapped lines). */
  private live(text: string): void {
    const columns = (this.out.stderr as NodeJS.WriteStream).columns;
    // the counts at the end matter most: cut the title, not the progress
    this.spinner!.text = columns && displayWidth(text) > columns - 3 ? fitLine(text, columns - 3) : text;
  }

  /** n of N done: a bar on a redrawable terminal, else a plain line every tenth. */
  progress(done: number, total: number, what = ""): void {
    const counts = `${done}/${total}${what ? " " + what : ""}`;
    if (this.spinner) {
      this.live(`${this.title} ${bar(done, total)} ${counts}`);
      return;
    }
    if (this.out.json || total <= 1) return;
    const bucket = Math.floor((done / total) * PLAIN_STEPS);
    if (bucket === this.plainBucket || done === total) return; // the finish line reports the end
    this.plainBucket = bucket;
    this.out.info(`  … ${counts}`);
  }

  /** The outcome shown when the step ends, e.g. "created", "unchanged"; "warn" when part failed. */
  done(outcome: string, state?: StepState): void {
    this.outcome = outcome;
    if (state) this.state = state;
  }

  finish(state: StepState): void {
    const final = state === "fail" ? "fail" : (this.state ?? state);
    const secs = ((performance.now() - this.started) / 1000).toFixed(1);
    const text = `${this.title}${this.outcome ? ": " + this.outcome : ""} ${this.out.c.dim(`(${secs}s)`)}`;
    if (this.spinner) {
      if (final === "ok") this.spinner.succeed(text);
      else if (final === "warn") this.spinner.warn(text);
      else this.spinner.fail(text);
    } else if (!this.out.json) {
      this.out.stderr.write(`${final === "ok" ? "✔" : final === "warn" ? "⚠" : "✖"} ${text}\n`);
    }
  }
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Keeps the end of a line (the progress) and cuts its beginning's tail: "Uploading 60 fil… ▕██░░▏ 12/60". */
function fitLine(text: string, width: number): string {
  const barAt = text.indexOf(" ▕");
  if (barAt < 0) return truncate(text, width);
  const head = text.slice(0, barAt);
  let tail = text.slice(barAt);
  // too narrow for the bar and a readable title: keep the counts alone
  if (displayWidth(tail) + 10 > width) tail = tail.replace(/^ ▕[^▏]*▏/, "");
  return truncate(truncate(head, Math.max(1, width - displayWidth(tail))) + tail, width);
}
