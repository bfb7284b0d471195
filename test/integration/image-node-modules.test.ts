/** The pruned linux/x64 node_modules still runs: sharp and onnxruntime-node load from it alone. */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { nodeModulesEntries } from "../../src/image/node-modules.js";

const work = mkdtempSync(join(tmpdir(), "imgfn-nm-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("loads sharp and onnxruntime-node from the pruned tree and nothing else", async () => {
  const { entries, packages } = await nodeModulesEntries("x86_64", { taskRoot: "task" });
  expect(packages.map((p) => p.name).sort()).toEqual(["@img/colour", "@img/sharp-libvips-linux-x64", "@img/sharp-linux-x64", "detect-libc", "onnxruntime-common", "onnxruntime-node", "semver", "sharp"]);
  for (const e of entries) {
    const dest = join(work, e.path);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(e.source!, dest);
  }
  writeFileSync(join(work, "task", "check.mjs"), `import sharp from "sharp"; import * as ort from "onnxruntime-node";
const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: "red" } }).png().toBuffer();
const { info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
console.log(JSON.stringify({ width: info.width, ort: typeof ort.InferenceSession.create }));`);
  // NODE_PATH empty and cwd in the copy: resolution cannot fall back to imgfn's own node_modules
  const out = execFileSync(process.execPath, ["check.mjs"], { cwd: join(work, "task"), env: { PATH: process.env.PATH }, encoding: "utf8" });
  expect(JSON.parse(out)).toEqual({ width: 4, ort: "function" });
});
