/**
 * On Lambda $HOME is read-only, and onnxruntime-node warned on every cold start (in yellow, with
 * ANSI codes) that it could not persist its telemetry device id. The function's environment now
 * turns that telemetry off: a session created under it, with a read-only HOME, logs nothing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { functionEnvironment, validateConfig } from "../../src/config.js";

const mirror = process.env.IMGFN_MODEL_MIRROR;
const model = mirror ? join(mirror, "mobilenetv2-12-int8.onnx") : "";
// onnxruntime may leave a session file (":memory:.ses") in the working directory: keep it out of the repository
const scratch = mkdtempSync(join(tmpdir(), "imgfn-ort-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const ortModule = createRequire(import.meta.url).resolve("onnxruntime-node");
const script = `const ort = require(process.argv[2]); ort.InferenceSession.create(process.argv[1]).then(() => console.log("session ready"));`;

/** A cold start: a fresh process creating a session, HOME on a read-only filesystem (/proc). */
function coldStart(extra: Record<string, string>) {
  const r = spawnSync(process.execPath, ["-e", script, model, ortModule], { env: { PATH: process.env.PATH, HOME: "/proc", ...extra }, encoding: "utf8", cwd: scratch });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe.skipIf(!existsSync(model))("onnxruntime telemetry on a read-only $HOME", () => {
  it("without the setting, onnxruntime warns with ANSI colour codes (what the function logged before)", () => {
    const r = coldStart({});
    expect(r.stdout).toContain("session ready");
    expect(r.stderr).toContain("Failed to persist telemetry device ID");
    expect(r.stderr).toMatch(/\u001b\[/);
  });

  it("with the function's environment, the cold start logs nothing at all", () => {
    const env = functionEnvironment(validateConfig({ app: "demo" }, process.cwd()), { bucket: "b" });
    expect(env.ORT_DISABLE_TELEMETRY).toBe("1");
    const r = coldStart(env);
    expect(r.stdout).toContain("session ready");
    expect(r.stderr).toBe("");
  });
});

