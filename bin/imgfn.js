#!/usr/bin/env node
// Launcher only: the CLI is compiled to dist/ by `npm run build` (npm test runs it too).
// The AWS SDK warns on every run under Node 20 about its releases after January 2027; imgfn pins
// its SDK through package-lock.json, so the notice is noise here (set the variable to override).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// onnxruntime's telemetry keeps a device id under $HOME; where HOME cannot be written it warns and
// leaves a ":memory:.ses" file in the working folder instead (predict, golden, demo)
process.env.ORT_DISABLE_TELEMETRY ??= "1";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = new URL("../dist/cli.js", import.meta.url);
const build = new URL("../scripts/build.mjs", import.meta.url);
// A fresh clone after `npm ci` has no dist/ yet (.npmrc runs no install scripts): build it once.
if (!existsSync(cli) && existsSync(build)) {
  process.stderr.write("imgfn: building dist/ (first run in this clone)…\n");
  const { execFileSync } = await import("node:child_process");
  execFileSync(process.execPath, [fileURLToPath(build)], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: ["ignore", "ignore", "inherit"] });
}
const { main } = await import(cli.href);

const controller = new AbortController();
let interrupted = 0;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (++interrupted > 1) process.exit(130); // a second Ctrl-C does not wait for clean-up
    controller.abort(new Error(`received ${sig}`));
  });
}
process.exitCode = await main(process.argv, { signal: controller.signal });
