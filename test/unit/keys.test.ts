import { describe, expect, it } from "vitest";
import { decodeS3Key, encodeS3Key, outputKeyFor, skipReason } from "../../handler/keys.js";
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
