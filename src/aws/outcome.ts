/** What an ensure or delete function did (or, under --dry-run, would do) to one resource. */
export type Action = "create" | "update" | "unchanged" | "delete" | "absent" | "skip";

export interface Outcome {
  action: Action;
  /** Human details: "memory 1024 → 2048 MB", "2 foreign rules kept". */
  changes: string[];
}

export const outcome = (action: Action, changes: string[] = []): Outcome => ({ action, changes });

const PAST: Record<Action, string> = { create: "created", update: "updated", unchanged: "unchanged", delete: "deleted", absent: "nothing to delete", skip: "skipped" };
const FUTURE: Record<Action, string> = { create: "would create", update: "would update", unchanged: "unchanged", delete: "would delete", absent: "nothing to delete", skip: "skipped" };

/** "updated (memory 1024 → 2048 MB)" or, for a plan, "would update (…)". */
export function describeOutcome(o: Outcome, dryRun = false): string {
  const verb = (dryRun ? FUTURE : PAST)[o.action];
  return o.changes.length ? `${verb} (${o.changes.join("; ")})` : verb;
}

export const changed = (o: Outcome) => o.action === "create" || o.action === "update" || o.action === "delete";
