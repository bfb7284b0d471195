import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { decodeS3Key, encodeS3Key, outputKeyFor, resultLocation, skipReason } from "../../handler/keys.js";
import { readSettings } from "../../handler/settings.js";

describe("S3 event keys", () => {
  // What S3 puts in event notifications for these keys (form-encoded: space → "+").
  it.each([
    ["uploads/my cat.jpg", "uploads/my+cat.jpg"],
    ["uploads/a+b.jpg", "uploads/a%2Bb.jpg"],
    ["uploads/chat (1).jpg", "uploads/chat+%281%29.jpg"],
    ["uploads/café/猫.png", "uploads/caf%C3%A9/%E7%8C%AB.png"],
    ["uploads/100%.jpg", "uploads/100%25.jpg"],
    ["uploads/it's~*.jpg", "uploads/it%27s%7E*.jpg"],
  ])("%s arrives as %s and decodes back", (key, encoded) => {
    expect(encodeS3Key(key)).toBe(encoded);
    expect(decodeS3Key(encoded)).toBe(key);
  });

  it("a malformed escape is kept as sent instead of failing the record", () => {
    expect(decodeS3Key("uploads/bad%zz.jpg")).toBe("uploads/bad%zz.jpg");
  });
});

describe("which keys the function processes", () => {
  const rules = { inputPrefix: "uploads/", outputPrefix: "results/", suffixes: [".jpg", ".png"] };
  it("processes matching keys and maps them to the output prefix", () => {
    expect(skipReason("uploads/cat.jpg", rules)).toBeUndefined();
    expect(outputKeyFor("uploads/pets/cat.jpg", rules)).toBe("results/pets/cat.jpg.json");
  });
  it.each([
    ["results/cat.jpg.json", /output prefix/],
    ["results/x.jpg", /output prefix/],
    ["other/cat.jpg", /outside the input prefix/],
    ["uploads/cat.JPG", /does not end with/], // case-sensitive, like S3's filters
    ["uploads/notes.txt", /does not end with/],
  ])("skips %s", (key, reason) => {
    expect(skipReason(key, rules)).toMatch(reason);
  });
  it("never processes its own output even when the input prefix is the whole bucket", () => {
    const wide = { inputPrefix: "", outputPrefix: "results/", suffixes: [] };
    expect(skipReason("results/cat.jpg.json", wide)).toMatch(/output prefix/);
    expect(skipReason("cat.jpg", wide)).toBeUndefined();
    expect(outputKeyFor("cat.jpg", wide)).toBe("results/cat.jpg.json");
  });
});

describe("function settings from the environment", () => {
  it("has safe defaults", () => {
    const s = readSettings({});
    expect(s.inputPrefix).toBe("uploads/");
    expect(s.outputPrefix).toBe("results/");
    expect(s.maxBytes).toBe(20 * 1024 * 1024);
    expect(s.maxPixels).toBe(50_000_000);
    expect(s.threads).toBe(1);
  });
  it("reads overrides and refuses nonsense", () => {
    const s = readSettings({ IMGFN_SUFFIXES: ".jpg, .webp", IMGFN_MAX_BYTES: "1000", LAMBDA_TASK_ROOT: "/var/task" });
    expect(s.suffixes).toEqual([".jpg", ".webp"]);
    expect(s.maxBytes).toBe(1000);
    expect(s.manifestPath).toBe("/var/task/model/model.json");
    expect(() => readSettings({ IMGFN_MAX_BYTES: "lots" })).toThrow(/IMGFN_MAX_BYTES must be a positive integer/);
  });
});

describe("result keys near S3's 1024-byte limit", () => {
  const rules = { inputPrefix: "in/", outputPrefix: "classified-results/", suffixes: [] };
  const keyOfBytes = (n: number) => "in/" + "é".repeat((n - 3 - 4) / 2) + ".jpg"; // two bytes a letter
  it("keeps the natural result key while it fits (counting bytes, not characters)", () => {
    const key = keyOfBytes(1003);
    expect(Buffer.byteLength(outputKeyFor(key, rules))).toBe(1024); // exactly S3's limit
    expect(resultLocation(key, rules)).toEqual({ key: `classified-results/${key.slice(3)}.json`, tooLong: false });
  });
  it("moves a result key over 1024 bytes to _long-keys/<sha256 of the source key>.json, and the CLI looks there too", () => {
    const key = keyOfBytes(1010); // fine as an input key, too long once the output prefix is longer
    const sha = createHash("sha256").update(key).digest("hex");
    expect(resultLocation(key, rules)).toEqual({ key: `classified-results/_long-keys/${sha}.json`, tooLong: true });
    expect(outputKeyFor(key, rules)).toBe(`classified-results/_long-keys/${sha}.json`);
    expect(skipReason(outputKeyFor(key, rules), rules)).toMatch(/output prefix/);
  });
});
