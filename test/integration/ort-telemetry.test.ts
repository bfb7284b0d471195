/**
 * On Lambda $HOME is read-only, and onnxruntime-node warned on every cold start (in yellow, with
 * ANSI codes) that it could not persist its telemetry device id. The function's environment now
 * turns that telemetry off: a session created under it, with a read-only HOME, logs nothing. The
 * CLI turns it off too (bin/imgfn.js): on a laptop or CI box whose HOME cannot be written,
 * onnxruntime otherwise drops a ":memory:.ses" file into the user's working folder.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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

  it("imgfn predict with a HOME it cannot write: the answer (from the mirror in place), no telemetry warning, and no \":memory:.ses\" left in the working folder", () => {
    const cwd = mkdtempSync(join(scratch, "project-"));
    // HOME naming a file: nothing can be created under it, even by root (as on a read-only home),
    // and no XDG_CACHE_HOME, so both imgfn's model cache and onnxruntime's device id have nowhere to go
    const home = join(scratch, "home-is-a-file");
    writeFileSync(home, "");
    const bin = fileURLToPath(new URL("../../bin/imgfn.js", import.meta.url));
    const sample = fileURLToPath(new URL("../../samples/cat.jpg", import.meta.url));
    const r = spawnSync(process.execPath, [bin, "predict", sample, "--json"], {
      env: { PATH: process.env.PATH, HOME: home, IMGFN_MODEL_MIRROR: mirror },
      encoding: "utf8",
      cwd,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(r.stdout))).toContain("Egyptian cat");
    expect(r.stderr).not.toMatch(/telemetry/i);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("with the function's environment, the cold start logs nothing at all", () => {
    const env = functionEnvironment(validateConfig({ app: "demo" }, process.cwd()), { bucket: "b" });
    expect(env.ORT_DISABLE_TELEMETRY).toBe("1");
    const r = coldStart(env);
    expect(r.stdout).toContain("session ready");
    expect(r.stderr).toBe("");
  });
});

