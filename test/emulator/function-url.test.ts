/**
 * The Function URL steps against moto_server (a real Lambda control-plane emulator): the URL
 * config, the public permission for auth NONE, idempotent redeploys, and teardown. moto cannot
 * run container functions, so the function itself is created directly with the SDK.
 */
import { CreateRoleCommand } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, GetFunctionUrlConfigCommand, GetPolicyCommand } from "@aws-sdk/client-lambda";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AwsClients } from "../../src/aws/clients.js";
import { deleteFunctionUrl, ensureFunctionUrl, functionUrlDrift, getFunctionUrl, publicStatements, syncFunctionUrl, verifyHttpStep } from "../../src/aws/function-url.js";
import { policyStatements } from "../../src/aws/lambda.js";
import type { Waiter } from "../../src/aws/retry.js";
import { runCli } from "../helpers/cli.js";
import { type Moto, motoUnavailable, startMoto } from "../helpers/moto.js";

const skip = motoUnavailable();
let moto: Moto;
let clients: AwsClients;
const FN = "imgfn-urltest";
const waiter: Waiter = { sleep: async () => {} };
const saved: Record<string, string | undefined> = {};

async function createFunction(): Promise<void> {
  const role = await clients.iam.send(new CreateRoleCommand({ RoleName: `${FN}-role`, AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [] }) }));
  await clients.lambda.send(
    new CreateFunctionCommand({
      FunctionName: FN,
      PackageType: "Image",
      Code: { ImageUri: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${FN}@sha256:${"a".repeat(64)}` },
      Role: role.Role!.Arn!,
      Tags: { "imgfn:app": "urltest", "managed-by": "imgfn" },
    }),
  );
}

async function policy(): Promise<any[]> {
  try {
    return JSON.parse((await clients.lambda.send(new GetPolicyCommand({ FunctionName: FN }))).Policy!).Statement;
  } catch {
    return [];
  }
}

describe.skipIf(skip)("Function URL against moto", () => {
  beforeAll(async () => {
    moto = await startMoto();
    for (const [k, v] of Object.entries(moto.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    clients = new AwsClients({ region: "us-east-1", endpointUrl: moto.endpoint });
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    await moto?.close();
  });
  beforeEach(async () => {
    await moto.reset();
    await createFunction();
  });

  it("creates the URL config with AWS_IAM and no public statement", async () => {
    const o = await ensureFunctionUrl(clients.lambda, FN, { auth: "AWS_IAM" }, waiter);
    expect(o.action).toBe("create");
    expect(o.url).toMatch(/^https:\/\/\w+\.lambda-url\.us-east-1\.on\.aws/);
    const cfg = await clients.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: FN }));
    expect(cfg.AuthType).toBe("AWS_IAM");
    expect(cfg.FunctionUrl).toBe(o.url);
    expect(await policy()).toEqual([]);
  });

  it("auth NONE adds exactly the public statements it needs, and a redeploy changes nothing", async () => {
    const first = await ensureFunctionUrl(clients.lambda, FN, { auth: "NONE" }, waiter);
    expect(first.action).toBe("create");
    const statements = await policy();
    expect(statements.map((s) => s.Sid).sort()).toEqual(publicStatements(FN).map((s) => s.sid).sort());
    const urlGrant = statements.find((s) => s.Action === "lambda:InvokeFunctionUrl");
    expect(urlGrant).toMatchObject({ Effect: "Allow", Principal: "*" });
    // moto records the auth-type condition as a field; real Lambda as Condition.StringEquals
    expect(urlGrant.FunctionUrlAuthType ?? urlGrant.Condition?.StringEquals?.["lambda:FunctionUrlAuthType"]).toBe("NONE");
    expect(statements.find((s) => s.Action === "lambda:InvokeFunction")).toMatchObject({ Effect: "Allow", Principal: "*" });

    const again = await ensureFunctionUrl(clients.lambda, FN, { auth: "NONE" }, waiter);
    expect(again).toMatchObject({ action: "unchanged", changes: [], url: first.url });
    expect(await policy()).toEqual(statements);
    expect(functionUrlDrift(await getFunctionUrl(clients.lambda, FN), { auth: "NONE" }, await policyStatements(clients.lambda, FN), FN)).toEqual([]);
  });

  it("switching NONE → AWS_IAM removes the public statements; CORS is set and cleared", async () => {
    await ensureFunctionUrl(clients.lambda, FN, { auth: "NONE" }, waiter);
    const cors = { allowOrigins: ["https://app.example.com"] };
    const o = await ensureFunctionUrl(clients.lambda, FN, { auth: "AWS_IAM", cors }, waiter);
    expect(o.action).toBe("update");
    expect(o.changes).toEqual(["auth NONE → AWS_IAM", "CORS for https://app.example.com", "remove public lambda:InvokeFunctionUrl", "remove public lambda:InvokeFunction"]);
    expect(await policy()).toEqual([]);
    const cfg = await clients.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: FN }));
    expect(cfg.Cors?.AllowOrigins).toEqual(["https://app.example.com"]);
    expect((await ensureFunctionUrl(clients.lambda, FN, { auth: "AWS_IAM", cors }, waiter)).action).toBe("unchanged");
    const cleared = await ensureFunctionUrl(clients.lambda, FN, { auth: "AWS_IAM" }, waiter);
    expect(cleared.changes).toEqual(["CORS removed"]);
    expect((await ensureFunctionUrl(clients.lambda, FN, { auth: "AWS_IAM" }, waiter)).action).toBe("unchanged");
  });

  it("a dry run plans without changing anything", async () => {
    const plan = await ensureFunctionUrl(clients.lambda, FN, { auth: "NONE" }, waiter, { dryRun: true });
    expect(plan.action).toBe("create");
    expect(plan.changes).toContain("allow anyone: lambda:InvokeFunctionUrl");
    expect(await getFunctionUrl(clients.lambda, FN)).toBeUndefined();
    expect(await policy()).toEqual([]);
  });

  it("http off (a redeploy without it) removes the URL config and its statements; then nothing to do", async () => {
    await ensureFunctionUrl(clients.lambda, FN, { auth: "NONE" }, waiter);
    const removed = await syncFunctionUrl(clients.lambda, FN, false, waiter);
    expect(removed?.action).toBe("delete");
    expect(await getFunctionUrl(clients.lambda, FN)).toBeUndefined();
    expect(await policy()).toEqual([]);
    expect(await syncFunctionUrl(clients.lambda, FN, false, waiter)).toBeUndefined();
    expect((await deleteFunctionUrl(clients.lambda, FN, waiter)).action).toBe("absent");
  });

  it("deploy's HTTP check is skipped, and says so, behind an --endpoint-url (moto does not serve the URL)", async () => {
    const { url } = await ensureFunctionUrl(clients.lambda, FN, { auth: "AWS_IAM" }, waiter);
    const steps: any[] = [];
    const ctx = { out: { step: () => Promise.reject(new Error("must not run")) } } as any;
    expect(await verifyHttpStep(ctx, clients, { auth: "AWS_IAM" }, url!, "samples/cat.jpg", steps, () => true)).toBeUndefined();
    expect(steps).toEqual([{ step: "verify-http", resource: url, action: "skip", changes: ["an --endpoint-url emulator does not serve Function URLs"] }]);
  });

  it("imgfn teardown leaves no URL config and no permission statement", async () => {
    await ensureFunctionUrl(clients.lambda, FN, { auth: "NONE" }, waiter);
    const project = mkdtempSync(join(tmpdir(), "imgfn-url-teardown-"));
    writeFileSync(join(project, "imgfn.config.json"), JSON.stringify({ app: "urltest", region: "us-east-1", http: { auth: "NONE" } }));
    const r = await runCli(["--json", "--yes", "--endpoint-url", moto.endpoint, "teardown"], { cwd: project, env: { ...process.env, ...moto.env } });
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    // the URL and both public statements are removed explicitly, before the function itself
    const steps = report.items.map((i: any) => i.step);
    expect(steps.indexOf("function-url")).toBeLessThan(steps.indexOf("function"));
    const url = report.items.find((i: any) => i.step === "function-url");
    expect(url.action).toBe("delete");
    expect(url.changes).toEqual([expect.stringMatching(/lambda-url/), "remove public lambda:InvokeFunctionUrl", "remove public lambda:InvokeFunction"]);
    expect(await getFunctionUrl(clients.lambda, FN)).toBeUndefined();
    const second = await runCli(["--json", "--yes", "--endpoint-url", moto.endpoint, "teardown"], { cwd: project, env: { ...process.env, ...moto.env } });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).items.find((i: any) => i.step === "function-url").action).toBe("absent");
  });
});
