/**
 * Headless Chromium through playwright-core, using the system's `chromium` (never a downloaded
 * browser). `chromiumUnavailable()` says why a suite skips on a machine without it; .ci/run
 * installs Debian's chromium so CI runs these.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";

export function chromiumPath(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], { encoding: "utf8" });
  const path = found.stdout?.trim().split("\n")[0];
  return found.status === 0 && path ? path : undefined;
}

export function chromiumUnavailable(): string | undefined {
  return chromiumPath() ? undefined : "no chromium on PATH (apt-get install chromium); the browser tests need a real browser";
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // this machine has no network: nothing in the background may try to reach it
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** Where tests save screenshots (ignored by git). */
export function artefactsDir(): string {
  const dir = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}
