/**
 * The uploaders of item 6, in a process of their own (as `imgfn upload` or the AWS CLI is when
 * `imgfn dev` runs), so the stack process's CPU is the stack's alone. Uploads every key with
 * UPLOADERS parallel PutObjects (AWS SDK defaults) and reports each upload's start time (epoch ms)
 * and this process's CPU.
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import { localS3Client } from "../../src/local/s3.js";

const [endpoint, region, bucket, file, uploaders, ...keys] = process.argv.slice(2);
const bytes = readFileSync(file);
const s3 = localS3Client(endpoint, region);
const now = () => performance.timeOrigin + performance.now();
const put = (key: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: "image/jpeg" }));

// one upload first, so the SDK's lazy loading is not counted
await put("uploads-warmup/first.txt");
const cpu0 = process.cpuUsage();
const started: Record<string, number> = {};
let next = 0;
await Promise.all(
  Array.from({ length: Number(uploaders) }, async () => {
    while (next < keys.length) {
      const key = keys[next++];
      started[key] = now();
      await put(key);
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
s3.destroy();
process.send!({ started, uploadedAll: now(), cpuMs: (cpu.user + cpu.system) / 1000 }, () => process.exit(0));
