/** The local S3 server lives in s3/; this door keeps the imports of the rest of imgfn stable. */
export * from "./s3/index.js";
