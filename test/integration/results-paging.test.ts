// `imgfn results` against an AWS API over more than one ListObjectsV2 page (S3 returns at most
// 1000 keys a page). moto_server plays S3 here, as an AWS endpoint; the local S3's own paging is
// tested with the AWS CLI and boto3 in local-s3-clients.test.ts.
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { resourceNames } from "../../src/config.js";
import { listResultObjects, loadResults } from "../../src/results/read.js";
import { runCli } from "../helpers/cli.js";
import { type Moto, motoUnavailable, startMoto } from "../helpers/moto.js";
import { sample, until } from "../e2e/helpers.js";

const skip = motoUnavailable();
const bucket = "imgfn-paging-test";
const COUNT = 1234;
let moto: Moto;
let s3: S3Client;
let project: string;

const resultDoc = (n: number) =>
  JSON.stringify(
    n % 100 === 7
      ? { input: { bucket, key: `uploads/p-${n}.jpg` }, error: { code: "NOT_AN_IMAGE", message: "not an image" }, timings: { total: 5 }, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString() }
      : { input: { bucket, key: `uploads/p-${n}.jpg` }, predictions: [{ label: n % 2 ? "tabby" : "espresso", index: 1, score: 0.9 }], timings: { total: 20 }, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString() },
  );

beforeAll(async () => {
  if (skip) return;
  moto = await startMoto();
  // the SDK's default credential chain reads the process environment
  Object.assign(process.env, moto.env);
  s3 = new S3Client({ endpoint: moto.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 0; i < COUNT; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, COUNT - i) }, (_, j) => i + j).map((n) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `results/p-${String(n).padStart(4, "0")}.jpg.json`, Body: resultDoc(n) }))),
    );
  }
  // the newest: written a moment after the rest
  await new Promise((r) => setTimeout(r, 1100));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "results/newest.jpg.json", Body: JSON.stringify({ input: { bucket, key: "uploads/newest.jpg" }, predictions: [{ label: "lynx", index: 3, score: 0.5 }], timestamp: new Date().toISOString() }) }));
  // not a result: no .json suffix; and a broken document
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "results/readme.txt", Body: "x" }));
  project = await mkdtemp(join(tmpdir(), "imgfn-paging-"));
  await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ app: "paging", bucket, region: "us-east-1" }));
}, 300_000);

afterAll(async () => {
  if (moto) for (const k of Object.keys(moto.env)) delete process.env[k];
  s3?.destroy();
  await moto?.close();
  if (project) await rm(project, { recursive: true, force: true });
});

describe.skipIf(skip)("results over many ListObjectsV2 pages (moto)", () => {
  it("lists every result object across pages, newest first, ignoring keys that are not .json", async () => {
    const objects = await listResultObjects(s3, bucket, "results/");
    expect(objects).toHaveLength(COUNT + 1);
    expect(new Set(objects.map((o) => o.key)).size).toBe(COUNT + 1);
    expect(objects[0].key).toBe("results/newest.jpg.json");
    for (let i = 1; i < objects.length; i++) expect(objects[i - 1].lastModified).toBeGreaterThanOrEqual(objects[i].lastModified);
  });

  it("filters before the limit: --errors finds the error results scattered over all pages", async () => {
    const { rows, listed } = await loadResults(s3, bucket, { prefix: "results/", errors: true });
    expect(listed).toBe(COUNT + 1);
    const expected = Array.from({ length: COUNT }, (_, n) => n).filter((n) => n % 100 === 7);
    expect(rows.map((r) => r.key).sort()).toEqual(expected.map((n) => `uploads/p-${n}.jpg`).sort());
    expect(rows.every((r) => r.status === "error" && r.error?.code === "NOT_AN_IMAGE")).toBe(true);
  });

  it("`imgfn results --json` against the AWS endpoint: one document, limit honoured, newest first", async () => {
    const res = await runCli(["--json", "results", "--limit", "1100", "--endpoint-url", moto.endpoint], { cwd: project, env: { ...process.env, ...moto.env } });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout); // exactly one JSON document
    expect(doc).toMatchObject({ bucket, prefix: "results/", listed: COUNT + 1, count: 1100 });
    expect(doc.results[0]).toMatchObject({ key: "uploads/newest.jpg", status: "classified", top1: { label: "lynx", score: 0.5 } });
    const whens = doc.results.map((r: any) => Date.parse(r.when));
    for (let i = 1; i < whens.length; i++) expect(whens[i - 1]).toBeGreaterThanOrEqual(whens[i]);
  });

  it("`--label` matches the top-1 label, case-insensitively, across pages", async () => {
    const res = await runCli(["--json", "results", "--label", "TABBY", "--limit", "5000", "--endpoint-url", moto.endpoint], { cwd: project, env: { ...process.env, ...moto.env } });
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout);
    const tabbies = Array.from({ length: COUNT }, (_, n) => n).filter((n) => n % 2 === 1 && n % 100 !== 7).length;
    expect(doc.count).toBe(tabbies);
    expect(doc.results.every((r: any) => r.top1.label === "tabby")).toBe(true);
  });

  it("a missing result key is an error with the next step (exit 1); a bad --limit is a usage error (exit 2)", async () => {
    const env = { ...process.env, ...moto.env };
    const missing = await runCli(["results", "uploads/nope.jpg", "--endpoint-url", moto.endpoint], { cwd: project, env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no result at s3://${bucket}/results/nope.jpg.json`);
    expect(missing.stderr).toContain("imgfn results");
    const bad = await runCli(["results", "--limit", "0"], { cwd: project, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--limit must be a positive integer");
    const since = await runCli(["results", "--since", "yesterday-ish"], { cwd: project, env });
    expect(since.code).toBe(2);
  });

  it("a bucket that does not exist says to deploy first", async () => {
    await writeFile(join(project, "other.json"), JSON.stringify({ app: "paging", bucket: "imgfn-no-such-bucket", region: "us-east-1" }));
    const res = await runCli(["--config", join(project, "other.json"), "results", "--endpoint-url", moto.endpoint], { cwd: project, env: { ...process.env, ...moto.env } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("bucket imgfn-no-such-bucket does not exist");
    expect(res.stderr).toContain("imgfn deploy");
    expect(JSON.parse(await readFile(join(project, "imgfn.config.json"), "utf8")).bucket).toBe(bucket);
  });

  it("`imgfn report` against AWS: thumbnails from the source objects, REPORT lines from CloudWatch Logs, the cost", async () => {
    const requestId = "0f0e0d0c-aaaa-bbbb-cccc-000000000001";
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "uploads/cat.jpg", Body: await readFile(sample("cat.jpg")) }));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "results/report/cat.jpg.json",
        Body: JSON.stringify({ input: { bucket, key: "uploads/cat.jpg" }, predictions: [{ label: "tabby", index: 281, score: 0.7 }], timings: { total: 40 }, requestId, coldStart: true, timestamp: new Date().toISOString() }),
      }),
    );
    const logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    const logGroupName = resourceNames({ app: "paging" } as any).logGroupName;
    await logs.send(new CreateLogGroupCommand({ logGroupName }));
    await logs.send(new CreateLogStreamCommand({ logGroupName, logStreamName: "2026/01/01/[$LATEST]abc" }));
    await logs.send(
      new PutLogEventsCommand({
        logGroupName,
        logStreamName: "2026/01/01/[$LATEST]abc",
        logEvents: [{ timestamp: Date.now(), message: `REPORT RequestId: ${requestId}\tDuration: 41.00 ms\tBilled Duration: 600 ms\tMemory Size: 2048 MB\tMax Memory Used: 300 MB\tInit Duration: 550.00 ms\t` }],
      }),
    );
    logs.destroy();
    const output = join(project, "aws-report.html");
    // --open runs the platform's opener (xdg-open here): a stand-in on PATH records what it was asked to open
    const bin = join(project, "bin");
    await mkdir(bin);
    await writeFile(join(bin, "xdg-open"), `#!/bin/sh\necho "$@" > "${join(project, "opened.txt")}"\n`, { mode: 0o755 });
    const res = await runCli(["--json", "report", "--prefix", "results/report/", "--output", output, "--open", "--endpoint-url", moto.endpoint], {
      cwd: project,
      env: { ...process.env, ...moto.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc).toMatchObject({ output, results: 1, thumbnails: 1, summary: { reports: 1, coldStarts: 1, maxMemoryUsedMb: 300, memorySizeMb: 2048 } });
    // 600 ms at 2 GB = 1.2 GB-s an image
    expect(doc.summary.cost.per1000Images).toBeCloseTo(1000 * (1.2 * 0.0000166667 + 0.0000002), 8);
    const html = await readFile(output, "utf8");
    expect(doc.bytes).toBe(Buffer.byteLength(html));
    expect(html).toContain("data:image/webp;base64,");
    await until("the opener to run", () => readFile(join(project, "opened.txt"), "utf8").then((t) => t.trim() === output || undefined, () => undefined), 10_000);
  });

  it("a report of nothing is written, says so, and exits 0", async () => {
    const output = join(project, "empty.html");
    const res = await runCli(["report", "--prefix", "results/nothing-here/", "--output", output, "--endpoint-url", moto.endpoint], { cwd: project, env: { ...process.env, ...moto.env } });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain("no results under s3://imgfn-paging-test/results/nothing-here/; the report is empty");
    expect(await readFile(output, "utf8")).toContain("<!doctype html>");
    // an --output whose folder does not exist is refused before anything is read
    const nowhere = await runCli(["report", "--output", join(project, "no-such-folder", "r.html"), "--endpoint-url", moto.endpoint], { cwd: project, env: { ...process.env, ...moto.env } });
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain("no-such-folder does not exist");
    expect(nowhere.stderr).not.toContain("Reading results");
  });
});
