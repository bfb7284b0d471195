/** Bucket calls: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation. */
import { S3Error } from "../errors.js";
import { sendEmpty, sendXml, xmlDate, type S3Context, type S3Request } from "../request.js";
import { xmlDocument } from "../xml.js";

/** The one local account, as S3 names an owner. */
export const LOCAL_OWNER = { ID: "0000000000000000000000000000000000000000000000000000000000000000", DisplayName: "imgfn-local" };

export function listBuckets(ctx: S3Context, r: S3Request): void {
  const buckets = ctx.store.listBuckets().map((b) => ({ Name: b.name, CreationDate: xmlDate(b.created), BucketRegion: ctx.region }));
  sendXml(r, 200, xmlDocument("ListAllMyBucketsResult", { Owner: LOCAL_OWNER, Buckets: { Bucket: buckets } }));
}

export async function createBucket(ctx: S3Context, r: S3Request): Promise<void> {
  // a CreateBucketConfiguration body (LocationConstraint) is accepted and not needed: one region here
  for await (const _ of r.req) void _;
  const created = await ctx.store.createBucket(r.bucket!);
  if (!created) throw new S3Error("BucketAlreadyOwnedByYou", undefined, { BucketName: r.bucket! });
  sendEmpty(r, 200, { location: `/${r.bucket}` });
}

export function headBucket(ctx: S3Context, r: S3Request): void {
  ctx.store.requireBucket(r.bucket!);
  sendEmpty(r, 200, { "x-amz-bucket-region": ctx.region });
}

export async function deleteBucket(ctx: S3Context, r: S3Request): Promise<void> {
  await ctx.store.deleteBucket(r.bucket!);
  sendEmpty(r, 204);
}

export function getBucketLocation(ctx: S3Context, r: S3Request): void {
  ctx.store.requireBucket(r.bucket!);
  // S3 answers an empty LocationConstraint for us-east-1
  sendXml(r, 200, xmlDocument("LocationConstraint", { "#text": ctx.region === "us-east-1" ? "" : ctx.region }));
}
