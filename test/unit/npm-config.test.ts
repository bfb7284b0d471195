/**
 * The project's .npmrc: npm must know every setting in it (an unknown one prints "npm warn Unknown
 * project config" on every npx imgfn), and install scripts stay off, so a fresh `npm ci` works
 * offline (onnxruntime-node's would download CUDA libraries from NuGet).
 */
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../e2e/helpers.js";

describe(".npmrc", () => {
  it("npm reads it without warnings, and runs no install scripts", async () => {
    const r = await execa("npm", ["config", "get", "ignore-scripts"], { cwd: repoRoot });
    expect(r.stderr).not.toMatch(/Unknown (project|env) config/);
    expect(r.stdout.trim()).toBe("true");
  });
});
