// Builds the CLI (dist/cli.js) and the function bundle (dist/function/index.mjs) with esbuild.
// The function bundle is what goes into the image and what the local emulator runs; the native
// packages (onnxruntime-node, sharp) stay external and ship as node_modules.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const common = { bundle: true, platform: "node", format: "esm", target: "node20", sourcemap: false, logLevel: "warning", legalComments: "none" };
// CommonJS dependencies bundled into ESM still call require(); give them one.
const banner = { js: `import { createRequire as __imgfnCreateRequire } from "node:module"; const require = __imgfnCreateRequire(import.meta.url);` };

// chunk names carry content hashes: drop the previous build's
await rm("dist/chunks", { recursive: true, force: true });
await Promise.all([
  // splitting: each command's module is its own chunk, imported only when that command runs
  build({ ...common, entryPoints: ["src/cli.ts"], outdir: "dist", splitting: true, chunkNames: "chunks/[name]-[hash]", packages: "external" }),
  // The local emulator's runtime (one per worker process); runs from dist/ like the CLI.
  build({ ...common, entryPoints: ["src/local/worker.ts"], outfile: "dist/local/worker.js", packages: "external" }),
  build({
    ...common,
    entryPoints: ["handler/index.ts"],
    outfile: "dist/function/index.mjs",
    external: ["onnxruntime-node", "sharp"], // = FUNCTION_EXTERNALS in src/image/stage.ts
    banner,
    // cold start: the SDK's ES module builds tree-shake better (1.0 MB → 0.44 MB) and a fully
    // minified bundle parses faster; error names come from explicit `name` fields, not class names
    mainFields: ["module", "main"],
    minify: true,
    // index.mjs.map ships beside the bundle: with --enable-source-maps (the emulator's workers,
    // NODE_OPTIONS in the image) stacks name handler/*.ts lines; no sources inside, only positions
    sourcemap: true,
    sourcesContent: false,
  }),
  // The report and the live page of `imgfn dev`: browser bundles served from the package itself
  // (nothing fetched at run time); the report inlines them into one HTML file.
  build({
    entryPoints: [
      { in: "src/results/web/report.ts", out: "report" },
      { in: "src/results/web/report.css", out: "report" },
      { in: "src/local/page/web/live.ts", out: "live" },
      { in: "src/local/page/web/live.css", out: "live" },
    ],
    outdir: "dist/web",
    bundle: true,
    platform: "browser",
    format: "iife",
    target: ["chrome110", "firefox110", "safari16"],
    minify: true,
    logLevel: "warning",
    legalComments: "none",
  }),
  mkdir("dist/web", { recursive: true }).then(() => Promise.all([copyFile("src/results/web/report.html", "dist/web/report.html"), copyFile("src/local/page/web/live.html", "dist/web/live.html")])),
]);
