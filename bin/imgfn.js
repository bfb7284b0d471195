#!/usr/bin/env node
// Launcher only: the CLI is compiled to dist/ by `npm run build` (run by npm ci/install).
// The AWS SDK warns on every run under Node 20 about its releases after January 2027; imgfn pins
// its SDK through package-lock.json, so the notice is noise here (set the variable to override).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { main } = await import("../dist/cli.js");

const controller = new AbortController();
let interrupted = 0;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (++interrupted > 1) process.exit(130); // a second Ctrl-C does not wait for clean-up
    controller.abort(new Error(`received ${sig}`));
  });
}
process.exitCode = await main(process.argv, { signal: controller.signal });
