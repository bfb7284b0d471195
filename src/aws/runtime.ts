/**
 * The seams the AWS commands reach through for things tests replace: the image builder, the
 * backoff sleep, the sample image, and the confirmation prompt. Production values by default.
 */
import { createInterface } from "node:readline/promises";
import { selectBuilder as realSelectBuilder, type BuilderChoice, type ImageBuilder } from "../image/index.js";
import { samplePath } from "../paths.js";
import { stageFunction } from "../image/stage.js";
import { realSleep, type Sleep } from "./retry.js";

export interface AwsRuntime {
  selectBuilder: (choice: BuilderChoice, env: NodeJS.ProcessEnv, signal: AbortSignal) => Promise<ImageBuilder>;
  sleep: Sleep;
  stage: typeof stageFunction;
  /** deploy --image's registry check; undefined: the real one (src/aws/deploy.ts). */
  preflightImage?: typeof import("./deploy.js").preflightImage;
  sample: () => string;
  /** Verify's wait for the result (ms); undefined: the default. */
  verifyTimeout?: number;
  stdinIsTTY: () => boolean;
  confirm: (question: string, stderr: NodeJS.WritableStream) => Promise<boolean>;
}

const defaults: AwsRuntime = {
  selectBuilder: (choice, env, signal) => realSelectBuilder(choice, { env, signal }),
  sleep: realSleep,
  stage: stageFunction,
  preflightImage: undefined,
  sample: () => samplePath("cat.jpg"),
  verifyTimeout: undefined,
  stdinIsTTY: () => Boolean(process.stdin.isTTY),
  confirm: async (question, stderr) => {
    const rl = createInterface({ input: process.stdin, output: stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
    } finally {
      rl.close();
    }
  },
};

export const awsRuntime: AwsRuntime = { ...defaults };

/** Tests: replace parts of the runtime; returns a function restoring the defaults. */
export function setAwsRuntime(parts: Partial<AwsRuntime>): () => void {
  Object.assign(awsRuntime, parts);
  return () => Object.assign(awsRuntime, defaults);
}
