// SigV4 verification against AWS's published examples (Authenticating Requests: header and query
// string), and what each bad request gets.
import { describe, expect, it } from "vitest";
import { verifySignature, type RequestToVerify } from "../../../src/local/s3/auth.js";
import { S3Error } from "../../../src/local/s3/errors.js";

const credentials = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const at = Date.UTC(2013, 4, 24, 0, 0, 0);
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** AWS's "GET Object" example: the first 10 bytes of test.txt. */
function getExample(signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", extra: string[] = []): RequestToVerify {
  return {
    method: "GET",
    rawPath: "/test.txt",
    rawQuery: "",
    rawHeaders: [
      "Host", "examplebucket.s3.amazonaws.com",
      "Range", "bytes=0-9",
      "x-amz-content-sha256", EMPTY,
      "x-amz-date", "20130524T000000Z",
      "Authorization", `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=${signature}`,
      ...extra,
    ],
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
  return "accepted";
}

describe("SigV4 in the Authorization header", () => {
  it("accepts AWS's example and reports what the body needs", () => {
    const signed = verifySignature(getExample(), credentials, at);
    expect(signed).toMatchObject({ accessKeyId: "AKIAIOSFODNN7EXAMPLE", payloadHash: EMPTY, scope: "20130524/us-east-1/s3/aws4_request", presigned: false });
  });

  it("refuses a wrong signature, another key, a wrong secret, a stale date and an unsigned x-amz header", () => {
    expect(codeOf(() => verifySignature(getExample("0".repeat(64)), credentials, at))).toBe("SignatureDoesNotMatch");
    expect(codeOf(() => verifySignature(getExample(), { ...credentials, secretAccessKey: "other" }, at))).toBe("SignatureDoesNotMatch");
    expect(codeOf(() => verifySignature(getExample(), { ...credentials, accessKeyId: "SOMEONEELSE" }, at))).toBe("InvalidAccessKeyId");
    expect(codeOf(() => verifySignature(getExample(), credentials, at + 16 * 60 * 1000))).toBe("RequestTimeTooSkewed");
    expect(codeOf(() => verifySignature(getExample(undefined, ["x-amz-meta-sneaky", "1"]), credentials, at))).toBe("AccessDenied");
  });

  it("refuses an unsigned request and Signature Version 2 headers", () => {
    const unsigned = { method: "PUT", rawPath: "/b/k", rawQuery: "", rawHeaders: ["Host", "127.0.0.1:9000"] };
    expect(codeOf(() => verifySignature(unsigned, credentials, at))).toBe("AccessDenied");
    const v2 = { ...unsigned, rawHeaders: ["Host", "127.0.0.1:9000", "Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="] };
    expect(codeOf(() => verifySignature(v2, credentials, at))).toBe("InvalidRequest");
  });
});

describe("SigV4 in the query string (presigned URL)", () => {
  // AWS's example: GET /test.txt, 86400 s, signature aeeed9bb…
  const presigned = (signature: string) => ({
    method: "GET",
    rawPath: "/test.txt",
    rawQuery: `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=${signature}`,
    rawHeaders: ["Host", "examplebucket.s3.amazonaws.com"],
  });
  const good = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

  it("accepts AWS's example within its lifetime, with an unsigned payload", () => {
    expect(verifySignature(presigned(good), credentials, at + 1000)).toMatchObject({ presigned: true, payloadHash: "UNSIGNED-PAYLOAD" });
  });

  it("refuses it once expired, and with a changed signature", () => {
    expect(codeOf(() => verifySignature(presigned(good), credentials, at + 86401 * 1000))).toBe("AccessDenied");
    expect(codeOf(() => verifySignature(presigned(good.replace(/^a/, "b")), credentials, at + 1000))).toBe("SignatureDoesNotMatch");
  });
});
