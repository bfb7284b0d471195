import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { motoUnavailable } from "../helpers/moto.js";
import { startWorld, type World } from "./world.js";

const unavailable = motoUnavailable();
let w: World;

describe.skipIf(unavailable)("deploy against moto", () => {
  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => w?.close());

  it("first deploy", async () => {
    const dir = w.project({ app: "first" });
    const r = await w.cli(dir, ["deploy"]);
    console.log(r.code, r.stdout, r.stderr);
    const d = await w.cli(dir, ["deploy", "--dry-run"]);
    console.log(d.code, d.stdout, d.stderr);
    const r2 = await w.cli(dir, ["deploy", "--json"]);
    console.log(r2.code, r2.stdout.slice(0, 3000), r2.stderr);
    const s = await w.cli(dir, ["status"]);
    console.log(s.code, s.stdout, s.stderr);
    const t = await w.cli(dir, ["--yes", "teardown"]);
    console.log(t.code, t.stdout, t.stderr);
  }, 300_000);
});
