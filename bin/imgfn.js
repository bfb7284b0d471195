#!/usr/bin/env node
// Launcher only: the CLI is compiled to dist/ by `npm run build` (run by npm ci/install).
import { main } from "../dist/cli.js";

const controller = new AbortController();
let interrupted = 0;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (++interrupted > 1) process.exit(130); // a second Ctrl-C does not wait for clean-up
    controller.abort(new Error(`received ${sig}`));
  });
}
process.exitCode = await main(process.argv, { signal: controller.signal });
