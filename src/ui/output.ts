/**
 * Everything that prints goes through Output: results to stdout, diagnostics to stderr, nothing
 * but JSON on stdout under --json, spinners and colours only on a TTY (NO_COLOR respected).
 */
import { Writable } from "node:stream";
import ora, { type Ora } from "ora";
import pc from "picocolors";

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  stdout?: Writable;
  stderr?: Writable;
  /** Force TTY behaviour on or off (tests); defaults to stderr.isTTY. */
  interactive?: boolean;
  color?: boolean;
}

export class Output {
  readonly json: boolean;
  readonly interactive: boolean;
  readonly color: boolean;
  readonly stdout: Writable;
  readonly stderr: Writable;
  private readonly quiet: boolean;

  constructor(opts: OutputOptions = {}) {
    this.json = opts.json ?? false;
    this.quiet = opts.quiet ?? false;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    this.interactive = opts.interactive ?? Boolean((this.stderr as NodeJS.WriteStream).isTTY);
    this.color = opts.color ?? (this.interactive && !process.env.NO_COLOR && process.env.TERM !== "dumb");
  }

  get c() {
    return pc.createColors(this.color);
  }

  /** A human result line on stdout (suppressed under --json). */
  print(line = ""): void {
    if (!this.json) this.stdout.write(line + "\n");
  }

  /** The machine result under --json (exactly one document per command). */
  result(value: unknown): void {
    if (this.json) this.stdout.write(JSON.stringify(value, null, 2) + "\n");
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
   * A step with a spinner on a TTY, a plain "… done" line otherwise. The callback's return
   * value is passed through; `detail` may set the closing text.
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

export class StepHandle {
  private spinner?: Ora;
  private outcome?: string;
  private readonly started = performance.now();

  constructor(
    private readonly out: Output,
    private title: string,
  ) {
    if (out.interactive && !out.json) {
      this.spinner = ora({ text: title, stream: out.stderr as NodeJS.WriteStream, color: "cyan" }).start();
    }
  }

  /** Updates the live text (e.g. "waiting for the role to propagate (12s)"). */
  update(text: string): void {
    if (this.spinner) this.spinner.text = `${this.title} — ${text}`;
  }

  /** The outcome shown when the step ends, e.g. "created", "unchanged". */
  done(outcome: string): void {
    this.outcome = outcome;
  }

  finish(state: "ok" | "fail"): void {
    const secs = ((performance.now() - this.started) / 1000).toFixed(1);
    const text = `${this.title}${this.outcome ? ": " + this.outcome : ""} ${this.out.c.dim(`(${secs}s)`)}`;
    if (this.spinner) {
      if (state === "ok") this.spinner.succeed(text);
      else this.spinner.fail(text);
    } else if (!this.out.json) {
      this.out.stderr.write(`${state === "ok" ? "✔" : "✖"} ${text}\n`);
    }
  }
}

/** Left-aligned columns; numbers may be pre-formatted strings. */
export function table(rows: string[][], opts: { indent?: number } = {}): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  const pad = " ".repeat(opts.indent ?? 0);
  return rows
    .map((row) => pad + row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i] - visibleLength(cell)))).join("  "))
    .join("\n");
}

function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
