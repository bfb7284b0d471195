/**
 * Item 6's HTTP floor, the client side: in a process of its own, makes the four S3 requests the
 * pipeline makes per image (the upload's PutObject of the photo, then the function's GetObject with
 * If-Match, PutObject of a 2 KB JSON result and HeadObject) IMAGES times in sequence, with the AWS
 * SDK's defaults, against the endpoint it is given, and says when it starts and ends so the server
 * process can measure its own CPU over exactly those requests.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import { localS3Client } from "../../src/local/s3.js";

const [endpoint, bucket, file, images] = process.argv.slice(2);
const photo = readFileSync(file);
const result = JSON.stringify({ padding: "x".repeat(2000) });
const s3 = localS3Client(endpoint);
const next = () => new Promise((resolve) => process.once("message", resolve));

async function image(i: number): Promise<void> {
  const key = `uploads/floor-${i}.jpg`;
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: photo, ContentType: "image/jpeg" }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: put.ETag }));
  await got.Body!.transformToByteArray();
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `results/floor-${i}.json`, Body: result, ContentType: "application/json" }));
  await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

await image(-1); // lazy loading and the first connection, not counted
process.send!("start");
await next();
for (let i = 0; i < Number(images); i++) await image(i);
process.send!("end");
await next();
s3.destroy();
process.exit(0);
