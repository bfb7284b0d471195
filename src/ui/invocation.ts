/**
 * How to run imgfn from here, so every printed hint works when pasted: `imgfn` when a global
 * install or `npm link` put it on PATH, `npx imgfn` inside a project that has it in
 * node_modules (or inside imgfn's own clone), else `node <path>/bin/imgfn.js`.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { delimiter, dirname, join, relative, sep } from "node:path";

export interface InvocationInput {
  /** The script the process was started with (process.argv[1]). */
  script?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** imgfn's package folder (paths.ts packageRoot). */
  packageRoot: string;
}

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
};

export function detectInvocation({ script, cwd, env, packageRoot }: InvocationInput): string {
  const bin = real(join(packageRoot, "bin", "imgfn.js")) ?? join(packageRoot, "bin", "imgfn.js");
  // not started through bin/imgfn.js (imgfn's main() embedded, e.g. by a test runner): the name
  // on its own is the best guess
  if (!script || real(script) !== bin) return "imgfn";
  // On PATH (global install, npm link): the first `imgfn` a shell finds is this one. Folders npx
  // puts on PATH (node_modules/.bin) do not count: outside npx they are not there.
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir || dir.split(sep).includes("node_modules")) continue;
    const candidate = join(dir, "imgfn");
    if (existsSync(candidate)) {
      if (real(candidate) === bin) return "imgfn";
      break; // another imgfn comes first on PATH: typing `imgfn` would not run this one
    }
  }
  // npx resolves the bin from the nearest node_modules/.bin, or the package's own folder.
  for (let dir = cwd; ; dir = dirname(dir)) {
    const local = join(dir, "node_modules", ".bin", "imgfn");
    if (existsSync(local)) {
      if (real(local) === bin) return "npx imgfn";
      break;
    }
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, "utf8")).name === "imgfn" && real(dir) === real(packageRoot)) return "npx imgfn";
      } catch {
        // an unreadable package.json is not imgfn's
      }
    }
    if (dirname(dir) === dir) break;
  }
  const target = script;
  const rel = relative(cwd, target);
  // a short relative path reads better; one climbing out of the project is clearer absolute
  const path = rel && rel.split(sep).filter((p) => p === "..").length <= 2 ? rel : target;
  return `node ${/^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`}`;
}

const COMMAND_WORDS = "init|demo|dev|build|deploy|upload|logs|invoke|status|teardown|delete|remove|destroy|predict|model|event|failed|retry|backfill|classify|results|report|golden";
const MENTION = new RegExp(`(^|[\\s"'\`(])(?<!npx )imgfn (?=(?:${COMMAND_WORDS})\\b)`, "g");

/** Rewrites `imgfn <command>` mentions in a hint to the invocation that works here. */
export function runnable(text: string, invocation: string): string {
  if (invocation === "imgfn") return text;
  return text.replace(MENTION, (_m, before: string) => `${before}${invocation} `);
}
