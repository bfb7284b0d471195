/**
 * `imgfn deploy --http`, `status` and `teardown` as a user runs them, against moto_server (the
 * emulator suite's world: moto + docker-registry), with the state read back through the SDK.
 * moto stores container functions but cannot run them, so the image is given by digest
 * (--image, a single-platform image on the test registry, which passes the preflight) and the
 * sample upload is skipped (--no-verify).
 */
import { GetFunctionUrlConfigCommand, GetPolicyCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { motoUnavailable } from "../helpers/moto.js";
import { ACCOUNT, EMULATOR_TEST_TIMEOUT, REGION, startWorld, type World } from "./world.js";

const skip = motoUnavailable();
let w: World;
let lambda: LambdaClient;
let project: string;
let image: string;
const FN = "imgfn-web";

const config = (extra: Record<string, unknown>) => writeFileSync(join(project, "imgfn.config.json"), JSON.stringify({ app: "web", region: REGION, baseImage: w.baseImage, ...extra }));
// --json last: the world adds --registry after a deploy's own arguments
const human = (...args: string[]) => w.cli(project, args);
const cli = (...args: string[]) => w.cli(project, [...args, "--json"]);
const deploy = (...extra: string[]) => cli("deploy", "--no-verify", "--image", image, ...extra);

async function urlConfig() {
  try {
    return await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: FN }));
  } catch (err) {
    if ((err as Error).name === "ResourceNotFoundException") return undefined;
    throw err;
  }
}
async function statements(): Promise<any[]> {
  try {
    return JSON.parse((await lambda.send(new GetPolicyCommand({ FunctionName: FN }))).Policy!).Statement;
  } catch {
    return [];
  }
}
const publicOnes = async () => (await statements()).filter((s) => s.Principal === "*" || s.Principal?.AWS === "*");

describe.skipIf(skip)("deploy --http against moto", { timeout: EMULATOR_TEST_TIMEOUT }, () => {
  beforeAll(async () => {
    w = await startWorld();
    lambda = w.aws.lambda;
    project = w.project({ app: "web" });
    image = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/lambda/nodejs@${w.basePlatforms.amd64}`;
  }, EMULATOR_TEST_TIMEOUT);
  afterAll(async () => {
    await w?.close();
  });

  it("deploy --dry-run --http plans the Function URL; a NONE plan lists the public grant and warns", async () => {
    config({});
    const plan = await cli("deploy", "--dry-run", "--http", "--image", image);
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout).steps.find((s: any) => s.step === "function-url")).toMatchObject({ action: "create", changes: ["auth AWS_IAM"] });
    config({ http: { auth: "NONE" } });
    const open = await cli("deploy", "--dry-run", "--image", image);
    expect(JSON.parse(open.stdout).steps.find((s: any) => s.step === "function-url").changes).toEqual(["auth NONE", "allow anyone: lambda:InvokeFunctionUrl", "allow anyone: lambda:InvokeFunction"]);
    expect(open.stderr).toContain("anyone who finds the URL can call it");
    expect(await urlConfig()).toBeUndefined();
  });

  it("deploy --http creates the Function URL with AWS_IAM and no public statement, and prints the URL", async () => {
    config({});
    const r = await deploy("--http");
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const cfg = await urlConfig();
    expect(cfg?.AuthType).toBe("AWS_IAM");
    expect(report.functionUrl).toBe(cfg?.FunctionUrl);
    expect(report.steps.find((s: any) => s.step === "function-url")).toMatchObject({ action: "create", changes: ["auth AWS_IAM"] });
    expect(report.steps.find((s: any) => s.step === "verify-http")).toBeUndefined(); // --no-verify
    expect(await publicOnes()).toEqual([]);
    expect(r.stderr).not.toContain("anyone");
  });

  it("a redeploy with no change changes nothing", async () => {
    const before = await urlConfig();
    const policy = await statements();
    const r = await deploy("--http");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.steps.filter((s: any) => s.action !== "unchanged" && s.action !== "skip")).toEqual([]);
    expect(report.changed).toBe(false);
    expect(report.steps.find((s: any) => s.step === "function-url")).toMatchObject({ action: "unchanged", changes: [] });
    expect((await urlConfig())?.FunctionUrl).toBe(before?.FunctionUrl);
    expect(await statements()).toEqual(policy);
    // for humans: the URL and how to use it; status shows it too
    const again = await human("deploy", "--no-verify", "--image", image, "--http");
    expect(again.stdout).toContain("No changes");
    expect(again.stdout).toMatch(new RegExp(`function URL\\s+${before!.FunctionUrl!.replace(/\./g, "\\.")}\\s+\\(.*classify <image files>\\)`));
    const status = await human("status");
    expect(status.stdout).toMatch(/function URL\s+https:\/\/\w+\.lambda-url\.us-east-1\.on\.aws\S*\s+\(auth AWS_IAM\)/);
  });

  it('"auth": "NONE" with CORS adds exactly the public grant it needs and warns about cost; status shows it', async () => {
    config({ http: { auth: "NONE", cors: { allowOrigins: ["https://app.example.com"] } } });
    const r = await deploy();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("anyone who finds the URL can call it, and every call spends this account's money");
    const cfg = await urlConfig();
    expect(cfg).toMatchObject({ AuthType: "NONE", Cors: { AllowOrigins: ["https://app.example.com"], AllowMethods: ["GET", "POST"], MaxAge: 300 } });
    const grants = await publicOnes();
    expect(grants.map((s) => s.Action).sort()).toEqual(["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]);
    const urlGrant = grants.find((s) => s.Action === "lambda:InvokeFunctionUrl");
    expect(urlGrant.FunctionUrlAuthType ?? urlGrant.Condition?.StringEquals?.["lambda:FunctionUrlAuthType"]).toBe("NONE");
    // the S3 statement is still the only other one
    expect((await statements()).map((s) => s.Sid).filter((sid) => !grants.some((g) => g.Sid === sid))).toEqual([`${FN}-s3-invoke`]);

    const again = JSON.parse((await deploy()).stdout);
    expect(again.changed).toBe(false);

    const status = await cli("status");
    expect(status.code).toBe(0);
    const st = JSON.parse(status.stdout);
    expect(st.functionUrl).toMatchObject({ url: cfg!.FunctionUrl, auth: "NONE", cors: { AllowOrigins: ["https://app.example.com"] } });
    expect(st.drift.filter((d: string) => /URL|public/.test(d))).toEqual([]);
  });

  it("redeploying with http off removes the URL config and its permission statements; status agrees", async () => {
    config({});
    const r = await deploy();
    expect(r.code).toBe(0);
    const step = JSON.parse(r.stdout).steps.find((s: any) => s.step === "function-url");
    expect(step.action).toBe("delete");
    expect(await urlConfig()).toBeUndefined();
    expect(await publicOnes()).toEqual([]);
    const quiet = JSON.parse((await deploy()).stdout);
    expect(quiet.steps.find((s: any) => s.step === "function-url")).toBeUndefined();
    expect(JSON.parse((await cli("status")).stdout).functionUrl).toBeUndefined();
    // classify needs a URL: it says how to get one
    const classify = await cli("classify", join(import.meta.dirname, "..", "..", "samples", "cat.jpg"));
    expect(classify.code).toBe(1);
    expect(classify.stderr).toContain(`${FN} in us-east-1 has no Function URL`);
    expect(classify.stderr).toMatch(/next step: .*imgfn(\.js)? deploy --http/);
  });

  it("status reports drift when http is on but the URL is gone", async () => {
    config({ http: true });
    const st = JSON.parse((await cli("status")).stdout);
    expect(st.drift).toContain("function URL is missing (http is on)");
  });

  it("teardown leaves no URL config and no permission statement", async () => {
    config({ http: { auth: "NONE" } });
    expect((await deploy()).code).toBe(0);
    expect(await publicOnes()).toHaveLength(2);
    const r = await cli("teardown", "--yes");
    expect(r.code).toBe(0);
    const items = JSON.parse(r.stdout).items;
    expect(items.find((i: any) => i.step === "function-url")).toMatchObject({ action: "delete" });
    expect(await urlConfig()).toBeUndefined();
    expect(await statements()).toEqual([]);
  });
});
