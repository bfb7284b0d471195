// aws-chunked decoding against AWS's published streaming example (Signature V4, 64 KB + 1 KB of
// "a"), unsigned bodies with a trailer, and what each malformed body gets.
import { describe, expect, it } from "vitest";
import { signingKey } from "../../../src/local/s3/auth.js";
import { decodeAwsChunked, type ChunkedOptions, type Trailers } from "../../../src/local/s3/chunked.js";

const signing = {
  signingKey: signingKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
  amzDate: "20130524T000000Z",
  scope: "20130524/us-east-1/s3/aws4_request",
  seedSignature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
};
const SIGS = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648", "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"];

function awsExample(sigs = SIGS): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`),
    Buffer.alloc(65536, "a"),
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`),
    Buffer.alloc(1024, "a"),
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n\r\n`),
  ]);
}

/** Feeds a body in pieces of `step` bytes (framing split anywhere). */
async function decode(body: Buffer, opts: ChunkedOptions, step = 1000): Promise<{ data: Buffer; trailers: Trailers }> {
  const trailers: Trailers = new Map();
  async function* pieces() {
    for (let i = 0; i < body.length; i += step) yield body.subarray(i, i + step);
  }
  const out: Buffer[] = [];
  for await (const c of decodeAwsChunked(pieces(), opts, trailers)) out.push(c);
  return { data: Buffer.concat(out), trailers };
}

describe("signed aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)", () => {
  it("decodes AWS's example with every chunk signature checked, however the body is split", async () => {
    for (const step of [1, 7, 8192, 100_000]) {
      const { data } = await decode(awsExample(), { signing, trailer: false }, step === 1 ? 4099 : step);
      expect(data.equals(Buffer.alloc(66560, "a"))).toBe(true);
    }
  });

  it("refuses a body whose second chunk signature is wrong, or whose data was changed", async () => {
    await expect(decode(awsExample([SIGS[0], "0".repeat(64), SIGS[2]]), { signing, trailer: false })).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
    const tampered = awsExample();
    tampered[100] = "b".charCodeAt(0);
    await expect(decode(tampered, { signing, trailer: false })).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
  });

  it("refuses a body cut short", async () => {
    const body = awsExample();
    await expect(decode(body.subarray(0, body.length - 90), { signing, trailer: false })).rejects.toMatchObject({ code: "IncompleteBody" });
  });
});

describe("unsigned aws-chunked with a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER)", () => {
  const body = (trailer = "x-amz-checksum-crc32:NSRBwg==\r\n") => Buffer.from(`5\r\nhello\r\n6\r\n world\r\n0\r\n${trailer}\r\n`);

  it("decodes the data and hands over the trailing checksum", async () => {
    const { data, trailers } = await decode(body(), { trailer: true }, 3);
    expect(data.toString()).toBe("hello world");
    expect(trailers.get("x-amz-checksum-crc32")).toBe("NSRBwg==");
  });

  it("refuses framing that is not aws-chunked", async () => {
    await expect(decode(Buffer.from("hello world"), { trailer: true })).rejects.toMatchObject({ code: "IncompleteBody" });
    await expect(decode(Buffer.from("5\r\nhelloXX0\r\n\r\n"), { trailer: true })).rejects.toMatchObject({ code: "IncompleteBody" });
    await expect(decode(body("not a header line\r\n"), { trailer: true })).rejects.toMatchObject({ code: "IncompleteBody" });
  });
});
