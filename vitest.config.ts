import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // a temp folder per run, removed at its end; one line saying why test/emulator skips where moto_server is missing
    globalSetup: ["test/helpers/temp-root.ts", "test/emulator/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2-core machines: integration tests start servers and workers; keep parallelism modest.
    // console output (the function's JSON log lines) only for tests that fail
    silent: "passed-only",
    maxWorkers: 2,
    minWorkers: 1,
  },
});
