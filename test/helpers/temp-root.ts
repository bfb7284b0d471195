/**
 * Global setup: the test run gets a temp folder of its own (TMPDIR, which os.tmpdir(), Python's
 * tempfile and the tools the tests start all honour), removed when the run ends. Whatever a test,
 * a CLI it runs or a server it starts leaves in the temp folder goes with it, so a run leaves
 * nothing in the machine's /tmp.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "imgfn-tests-"));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
