/**
 * Errors a user can act on. Each carries what failed, why, and the next step (hint); one place
 * (cli.ts) maps them to output and exit codes. Keep the cause chain with { cause }.
 */
export class UserError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  /** Machine-readable code for --json errors (default: from the class name, e.g. CONFIG_ERROR). */
  readonly code?: string;
  /** The command's --json result already describes the failure (e.g. a golden report), so it is kept. */
  readonly resultStands: boolean;
  constructor(message: string, options: { hint?: string; cause?: unknown; exitCode?: number; code?: string; resultStands?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = "UserError";
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
    this.code = options.code;
    this.resultStands = options.resultStands ?? false;
  }
}

/** The model weights could not be found or did not match the manifest. */
export class ModelError extends UserError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options);
    this.name = "ModelError";
  }
}

/** Bad configuration file or flag. Exit code 2, like a usage error. */
export class ConfigError extends UserError {
  constructor(message: string, options: { hint?: string; cause?: unknown; code?: string } = {}) {
    super(message, { ...options, exitCode: 2 });
    this.name = "ConfigError";
  }
}

/** A command ran but did not fully succeed (some files failed); the details are already printed. */
export class PartialFailure extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = "PartialFailure";
  }
}

/** A local input (file, folder, event file) that is not there: a usage error, exit code 2. */
export class InputNotFound extends UserError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: 2, code: "NOT_FOUND" });
    this.name = "InputNotFound";
  }
}
