/**
 * aws-chunked request bodies (Content-Encoding: aws-chunked), as current SDKs send them:
 *   signed    STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
 *             <hex size>;chunk-signature=<sig>\r\n<data>\r\n … 0;chunk-signature=<sig>\r\n
 *             [<trailer lines>\r\nx-amz-trailer-signature:<sig>\r\n] \r\n
 *   unsigned  STREAMING-UNSIGNED-PAYLOAD-TRAILER
 *             <hex size>\r\n<data>\r\n … 0\r\n<trailer lines>\r\n \r\n
 * Each chunk's signature chains from the request's (the seed). The decoded bytes come out as they
 * arrive; a bad signature or framing throws, and the caller drops what was written.
 */
import { createHash, type Hash } from "node:crypto";
import { EMPTY_SHA256, sha256Hex, sign, signaturesEqual } from "./auth.js";
import { S3Error } from "./errors.js";

export const STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
export const STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
export const STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

export interface ChunkSigning {
  signingKey: Buffer;
  amzDate: string;
  scope: string;
  /** The request's own signature. */
  seedSignature: string;
}

export interface ChunkedOptions {
  /** Present for the signed variants: every chunk (and the trailer) is checked. */
  signing?: ChunkSigning;
  /** The variant carries trailing headers (…-TRAILER). */
  trailer: boolean;
}

/** Trailing headers by lower-case name (x-amz-checksum-crc32, …). */
export type Trailers = Map<string, string>;

const MAX_LINE = 4096;
const CRLF = Buffer.from("\r\n");

const malformed = (why: string) => new S3Error("IncompleteBody", `the aws-chunked body is malformed: ${why}`);

export function isStreaming(payloadHash: string): boolean {
  return payloadHash.startsWith("STREAMING-");
}

export function chunkedOptions(payloadHash: string, signing: ChunkSigning): ChunkedOptions {
  switch (payloadHash) {
    case STREAMING_SIGNED:
      return { signing, trailer: false };
    case STREAMING_SIGNED_TRAILER:
      return { signing, trailer: true };
    case STREAMING_UNSIGNED_TRAILER:
      return { trailer: true };
    default:
      throw new S3Error("InvalidArgument", `x-amz-content-sha256 "${payloadHash}" is not a streaming payload this server knows (${STREAMING_SIGNED}, ${STREAMING_SIGNED_TRAILER}, ${STREAMING_UNSIGNED_TRAILER})`);
  }
}

/** Decodes an aws-chunked body; `trailers` is filled when the body ends. */
export async function* decodeAwsChunked(source: AsyncIterable<Buffer>, opts: ChunkedOptions, trailers: Trailers): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  type State = "size" | "data" | "data-end" | "final-crlf" | "trailer" | "done";
  let state = "size" as State;
  let remaining = 0;
  let chunkSignature = "";
  let chunkHash: Hash | undefined;
  let previous = opts.signing?.seedSignature ?? "";
  const trailerLines: string[] = [];

  const verifyChunk = (dataHash: string) => {
    const s = opts.signing!;
    const expected = sign(s.signingKey, ["AWS4-HMAC-SHA256-PAYLOAD", s.amzDate, s.scope, previous, EMPTY_SHA256, dataHash].join("\n"));
    if (!signaturesEqual(expected, chunkSignature)) throw new S3Error("SignatureDoesNotMatch", "a chunk signature of the aws-chunked body does not match");
    previous = expected;
  };

  /** One CRLF-terminated line from buf, or undefined when more bytes are needed. */
  const line = (): string | undefined => {
    const at = buf.indexOf(CRLF);
    if (at < 0) {
      if (buf.length > MAX_LINE) throw malformed("a chunk header or trailer line is too long");
      return undefined;
    }
    if (at > MAX_LINE) throw malformed("a chunk header or trailer line is too long");
    const text = buf.subarray(0, at).toString("latin1");
    buf = buf.subarray(at + 2);
    return text;
  };

  for await (const piece of source) {
    buf = buf.length === 0 ? piece : Buffer.concat([buf, piece]);
    for (;;) {
      if (state === "size") {
        const l = line();
        if (l === undefined) break;
        const [sizeText, ...ext] = l.split(";");
        if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw malformed(`"${l.slice(0, 40)}" is not a chunk header`);
        remaining = parseInt(sizeText, 16);
        if (opts.signing) {
          const sig = ext.find((e) => e.startsWith("chunk-signature="));
          if (!sig) throw new S3Error("SignatureDoesNotMatch", "a chunk of the signed aws-chunked body has no chunk-signature");
          chunkSignature = sig.slice("chunk-signature=".length);
          chunkHash = createHash("sha256");
        }
        if (remaining === 0) {
          if (opts.signing) verifyChunk(EMPTY_SHA256);
          state = opts.trailer ? "trailer" : "final-crlf";
          continue;
        }
        state = "data";
      } else if (state === "data") {
        if (buf.length === 0) break;
        const take = buf.subarray(0, Math.min(remaining, buf.length));
        buf = buf.subarray(take.length);
        remaining -= take.length;
        chunkHash?.update(take);
        yield take;
        if (remaining === 0) {
          if (opts.signing) verifyChunk(chunkHash!.digest("hex"));
          state = "data-end";
        }
      } else if (state === "data-end" || state === "final-crlf") {
        // the CRLF after a chunk's data, or the empty line that ends a body without trailers
        if (buf.length < 2) break;
        if (buf[0] !== 13 || buf[1] !== 10) throw malformed("chunk data is not followed by CRLF");
        buf = buf.subarray(2);
        state = state === "final-crlf" ? "done" : "size";
      } else if (state === "trailer") {
        const l = line();
        if (l === undefined) break;
        if (l === "") {
          finishTrailer();
          state = "done";
          continue;
        }
        trailerLines.push(l);
        if (trailerLines.length > 16) throw malformed("too many trailing headers");
      } else {
        if (buf.length > 0 && buf.toString("latin1").trim() !== "") throw malformed("bytes after the final chunk");
        buf = Buffer.alloc(0);
        break;
      }
    }
  }
  // some clients end the body right after the zero chunk or the trailers, without the empty line
  if ((state === "trailer" || state === "final-crlf") && buf.length === 0) {
    if (state === "trailer") finishTrailer();
    state = "done";
  }
  if (state !== "done") throw new S3Error("IncompleteBody");

  function finishTrailer(): void {
    let trailerSignature: string | undefined;
    const signedText: string[] = [];
    for (const l of trailerLines) {
      const i = l.indexOf(":");
      if (i <= 0) throw malformed(`"${l.slice(0, 40)}" is not a trailing header`);
      const name = l.slice(0, i).trim().toLowerCase();
      const value = l.slice(i + 1).trim();
      if (name === "x-amz-trailer-signature") trailerSignature = value;
      else {
        trailers.set(name, value);
        signedText.push(`${name}:${value}\n`);
      }
    }
    if (opts.signing) {
      if (!trailerSignature) throw new S3Error("SignatureDoesNotMatch", "the signed aws-chunked body has no x-amz-trailer-signature");
      const s = opts.signing;
      const expected = sign(s.signingKey, ["AWS4-HMAC-SHA256-TRAILER", s.amzDate, s.scope, previous, sha256Hex(signedText.join(""))].join("\n"));
      if (!signaturesEqual(expected, trailerSignature)) throw new S3Error("SignatureDoesNotMatch", "the trailer signature of the aws-chunked body does not match");
    }
  }
}
