/**
 * What `imgfn dev` does as it starts: events a stopped dev left queued or running are gone with
 * its process, so the objects under the input prefix with no current result are found (the
 * shared backfill scan) and handed to the emulator as S3 would have. Events kept in the failed
 * store for the same object version are left to `imgfn retry --local`.
 */
import type { Config } from "../config.js";
import { findPending, invokeEach, type Scan } from "../pipeline/backfill.js";
import { localS3Client, type LocalStack } from "./stack.js";

export interface CatchUp extends Scan {
  /** Objects left alone because their failed event is in the failed store. */
  keptAsFailed: number;
}

export async function catchUpStack(stack: LocalStack, rules: Pick<Config, "inputPrefix" | "outputPrefix" | "suffixes">, signal?: AbortSignal): Promise<CatchUp> {
  const failed = new Set((await stack.failedStore.list()).flatMap((f) => f.keys.map((k) => `${k}\0${f.eTag ?? ""}`)));
  let keptAsFailed = 0;
  const exclude = (key: string, eTag: string | undefined) => {
    const kept = failed.has(`${key}\0${eTag ?? ""}`) || failed.has(`${key}\0`);
    if (kept) keptAsFailed++;
    return kept;
  };
  const s3 = localS3Client(stack.s3Endpoint, stack.region);
  try {
    const scan = await findPending(s3, stack.bucket, rules, { exclude, signal });
    // accepted once queued: the emulator runs them (and retries them) as it runs S3's events
    await invokeEach(stack.bucket, scan.pending, async (event) => void stack.emulator.invokeAsync(event), { region: stack.region });
    return { ...scan, keptAsFailed };
  } finally {
    s3.destroy();
  }
}
