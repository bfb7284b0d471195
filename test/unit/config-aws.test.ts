import { describe, expect, it } from "vitest";
import { bucketName } from "../../src/config.js";

describe("bucketName", () => {
  it("uses the configured bucket, else imgfn-<app>-<account>-<region>", () => {
    expect(bucketName({ app: "demo", bucket: "mine" }, "123456789012", "eu-west-1")).toBe("mine");
    expect(bucketName({ app: "demo" }, "123456789012", "eu-west-1")).toBe("imgfn-demo-123456789012-eu-west-1");
  });

  it("stays within S3's 63 characters for long app names, without a dangling dash", () => {
    const name = bucketName({ app: "a-very-long-application-name-for-testing" }, "123456789012", "ap-southeast-2");
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toBe("imgfn-a-very-long-application-name-123456789012-ap-southeast-2");
    expect(name).not.toContain("--");
  });
});
