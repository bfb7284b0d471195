/**
 * Odd and lying images through the function as it ships (the staged bundle), against a real
 * S3-compatible server on loopback: each gets exactly one result and the function never throws
 * (a throw is what makes Lambda retry), within the time and memory of a normal photo.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { s3Event, s3Record } from "../helpers/events.js";
import * as img from "../helpers/images.js";
import { peakRssGrowth } from "../helpers/memory.js";

let s3: TestS3;
let handler: (event: unknown, context: unknown) => Promise<any>;
const ctx = () => ({ awsRequestId: randomBytes(8).toString("hex") });

beforeAll(async () => {
  s3 = await startS3("bounds");
  const staged = await stageFunction(await loadModel(), await mkdtemp(join(tmpdir(), "imgfn-task-")), { linkNodeModules: true });
  Object.assign(process.env, s3.env, { LAMBDA_TASK_ROOT: staged.dir });
  ({ handler } = await import(join(staged.dir, "index.mjs")));
  // the first classification pays for the model's first run; measure the odd inputs warm
  await s3.put("uploads/warm.jpg", img.catJpeg());
  await handler(s3Event(s3Record(s3.bucket, "uploads/warm.jpg", img.catJpeg().length)), ctx());
});
afterAll(async () => {
  await s3?.close();
});

describe("bounded work through the handler", () => {
  it.each(img.EXTREME_ASPECTS)("%s: one classified result, no throw, under 1 s and 300 MB", async (name, w, h, format) => {
    const key = `uploads/aspect/${w}x${h}.${format === "png" ? "png" : "jpg"}`;
    const bytes = await img.extremeAspect(w, h, format);
    await s3.put(key, bytes);
    const { value: out, growth, ms } = await peakRssGrowth(() => handler(s3Event(s3Record(s3.bucket, key, bytes.length)), ctx()));
    expect(out.results).toEqual([{ key, status: "classified", outputKey: key.replace("uploads/", "results/") + ".json" }]);
    expect(ms, name).toBeLessThan(1000);
    expect(growth).toBeLessThan(300 * 1024 * 1024);
    const result = await s3.getJson(key.replace("uploads/", "results/") + ".json");
    expect(result.image).toEqual({ format, width: w, height: h });
    expect(result.predictions).toHaveLength(5);
  });

  const lying: [string, string, () => Promise<Uint8Array>][] = [
    ["a JPEG declaring 7000×7000 over 64×64 of scan data", "uploads/bad/lying.jpg", () => img.lyingJpeg(7000, 7000)],
    ["a PNG cut off at 90%", "uploads/bad/cut.png", img.truncatedPng],
    ["a WebP cut off at 70%", "uploads/bad/cut.webp", img.truncatedWebp],
  ];
  it.each(lying)("%s gets one CORRUPT_IMAGE result and no retry", async (_name, key, make) => {
    const bytes = await make();
    await s3.put(key, bytes);
    const out = await handler(s3Event(s3Record(s3.bucket, key, bytes.length)), ctx());
    expect(out.results).toEqual([{ key, status: "error", outputKey: key.replace("uploads/", "results/") + ".json", reason: "CORRUPT_IMAGE" }]);
    const result = await s3.getJson(key.replace("uploads/", "results/") + ".json");
    expect(result.error.code).toBe("CORRUPT_IMAGE");
    expect(result.predictions).toBeUndefined();
  });
});
