/**
 * One description of a failed command, for both audiences: the human lines on stderr and, under
 * --json, the single document on stdout: {"error":{"code","message","next"}} (same exit code).
 * The mapping of error classes to exit codes lives here and nowhere else.
 */
import { CommanderError } from "commander";
import { PartialFailure, UserError } from "../errors.js";

export interface ErrorDescription {
  /** Stable, machine-readable: USAGE, CONFIG_ERROR, NOT_FOUND, INTERRUPTED, INTERNAL, … */
  code: string;
  message: string;
  /** The next step, as a command or sentence the user can act on. */
  next?: string;
  exitCode: number;
  /** Printed only with --debug. */
  stack?: string;
  /** The command's --json result already says what failed (per item), so it stays on stdout. */
  resultStands?: boolean;
}

/** "ConfigError" → "CONFIG_ERROR" */
const constantCase = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

export function describeError(err: unknown): ErrorDescription {
  if (err instanceof CommanderError) {
    const message = err.message.replace(/^error: /, "");
    return { code: "USAGE", message, next: "run with --help for usage", exitCode: err.exitCode === 0 ? 0 : 2 };
  }
  if (err instanceof PartialFailure) return { code: "PARTIAL_FAILURE", message: err.message, exitCode: err.exitCode, resultStands: true };
  if (err instanceof UserError) {
    const cause = err.cause as Error | undefined;
    return {
      code: err.code ?? constantCase(err.name),
      message: err.message,
      next: err.hint,
      exitCode: err.exitCode,
      stack: cause ? (cause.stack ?? String(cause)) : err.stack,
      resultStands: err.resultStands,
    };
  }
  const e = err as Error;
  if (e?.name === "AbortError") return { code: "INTERRUPTED", message: "interrupted", exitCode: 130 };
  return { code: "INTERNAL", message: e?.message ?? String(err), next: "run again with --debug for the stack trace", exitCode: 1, stack: e?.stack };
}

export function errorDocument(d: ErrorDescription): { error: { code: string; message: string; next: string | null } } {
  return { error: { code: d.code, message: d.message, next: d.next ?? null } };
}
