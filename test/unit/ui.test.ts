/** The reusable output pieces in src/ui: terminal capabilities, the table, invocation hints, steps. */
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { detectInvocation, runnable } from "../../src/ui/invocation.js";
import { Output } from "../../src/ui/output.js";
import { table } from "../../src/ui/table.js";
import { displayWidth, truncate } from "../../src/ui/width.js";
import { canAnimate, terminalColumns } from "../../src/ui/terminal.js";
import { repoRoot } from "../e2e/helpers.js";

const tty = (columns: number | undefined) => Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY: true, columns });

describe("terminal capabilities", () => {
  it("animates only on a TTY with a known, non-zero width, and never under CI", () => {
    expect(canAnimate(tty(80), {})).toBe(true);
    expect(canAnimate(tty(0), {})).toBe(false);
    expect(canAnimate(tty(undefined), {})).toBe(false);
    expect(canAnimate(tty(80), { CI: "true" })).toBe(false);
    expect(canAnimate(tty(80), { CI: "false" })).toBe(true);
    expect(canAnimate(tty(80), { TERM: "dumb" })).toBe(false);
    expect(canAnimate(new Writable(), {})).toBe(false);
  });

  it("a width comes from the terminal, or from COLUMNS when output is not a terminal", () => {
    expect(terminalColumns(tty(120), { COLUMNS: "40" })).toBe(120);
    expect(terminalColumns(tty(0), {})).toBeUndefined();
    expect(terminalColumns(new Writable(), { COLUMNS: "72" })).toBe(72);
    expect(terminalColumns(new Writable(), {})).toBeUndefined();
  });
});

describe("table", () => {
  const rows = [
    ["key", "result", "score"],
    ["uploads/eagle.jpg", "bald eagle, American eagle, Haliaeetus leucocephalus", "97.1%"],
    ["uploads/cat.jpg", "Egyptian cat", "66.6%"],
  ];

  it("without a width pads every column to its longest cell", () => {
    const lines = table(rows).split("\n");
    expect(new Set(lines.map((l) => l.indexOf(l.includes("%") ? l.match(/\d+\.\d%/)![0] : "score"))).size).toBe(1);
  });

  it("fits the width by cutting the shrinkable column with an ellipsis, never wrapping", () => {
    const lines = table(rows, { width: 50, shrink: [1], right: [2] }).split("\n");
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(50);
    expect(lines[1]).toMatch(/^uploads\/eagle\.jpg {2}bald eagle, American.*… {2}97\.1%$/);
    expect(lines[2]).toMatch(/Egyptian cat\s+66\.6%$/);
    expect(lines.map((l) => l.length)).toEqual([50, 50, 50]);
  });

  it("keeps colours when truncating and resets them after the ellipsis", () => {
    const red = "\x1b[31mbald eagle, American eagle\x1b[39m";
    const cut = truncate(red, 10);
    expect(displayWidth(cut)).toBe(10);
    expect(cut).toBe("\x1b[31mbald eagl…\x1b[0m");
  });

  it("a terminal narrower than the fixed columns cuts the line itself", () => {
    for (const l of table(rows, { width: 20, shrink: [1] }).split("\n")) expect(displayWidth(l)).toBeLessThanOrEqual(20);
  });

  it("counts terminal columns, not characters: CJK and emoji file names take two each and still fit, aligned", () => {
    const wide = [
      ["file", "top-1", "score"],
      ["uploads/猫の写真-2024年夏.jpg", "Egyptian cat", "73.0%"],
      ["uploads/🐱🐱🐱.png", "tabby", "12.5%"],
      ["uploads/cat.jpg", "tiger cat", "1.3%"],
    ];
    const lines = table(wide, { width: 40, shrink: [0], right: [2] }).split("\n");
    for (const l of lines) expect(displayWidth(l)).toBe(40);
    expect(displayWidth("猫🐱e\u0301")).toBe(5); // 2 + 2 + 1: the combining accent takes no column
    expect(truncate("\x1b[31m猫猫猫猫\x1b[39m", 6)).toBe("\x1b[31m猫猫…\x1b[0m");
  });
});

describe("the invocation printed in hints", () => {
  const pkg = realpathSync(repoRoot);
  const script = join(pkg, "bin", "imgfn.js");

  it("is `imgfn` when that command on PATH is this one (npm link, npm install -g)", () => {
    const bin = mkdtempSync(join(tmpdir(), "imgfn-globalbin-"));
    symlinkSync(script, join(bin, "imgfn"));
    const cwd = mkdtempSync(join(tmpdir(), "imgfn-elsewhere-"));
    expect(detectInvocation({ script: join(bin, "imgfn"), cwd, env: { PATH: `${bin}:/usr/bin` }, packageRoot: pkg })).toBe("imgfn");
  });

  it("is `npx imgfn` in a project that has it in node_modules, and in imgfn's own folder", () => {
    const project = mkdtempSync(join(tmpdir(), "imgfn-project-"));
    mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
    symlinkSync(script, join(project, "node_modules", ".bin", "imgfn"));
    mkdirSync(join(project, "photos"));
    // npx puts node_modules/.bin on PATH: that does not make `imgfn` work outside npx
    const env = { PATH: `${join(project, "node_modules", ".bin")}:/usr/bin` };
    expect(detectInvocation({ script: join(project, "node_modules", ".bin", "imgfn"), cwd: join(project, "photos"), env, packageRoot: pkg })).toBe("npx imgfn");
    expect(detectInvocation({ script, cwd: pkg, env: { PATH: "/usr/bin" }, packageRoot: pkg })).toBe("npx imgfn");
  });

  it("is `node <path>/bin/imgfn.js` anywhere else", () => {
    const cwd = mkdtempSync(join(tmpdir(), "imgfn-plain-"));
    const got = detectInvocation({ script, cwd, env: { PATH: "/usr/bin" }, packageRoot: pkg });
    const rel = relative(cwd, script);
    expect(got).toBe(`node ${rel.split("/").filter((p) => p === "..").length <= 2 ? rel : script}`);
  });

  it("is `imgfn` when main() runs embedded (not started through bin/imgfn.js)", () => {
    expect(detectInvocation({ script: "/somewhere/vitest.mjs", cwd: pkg, env: {}, packageRoot: pkg })).toBe("imgfn");
  });

  it("rewrites `imgfn <command>` mentions in hints, and nothing else", () => {
    const hint = `run "imgfn deploy" first; logs: imgfn logs --follow; imgfn-demo-role stays; npx imgfn status`;
    expect(runnable(hint, "npx imgfn")).toBe(`run "npx imgfn deploy" first; logs: npx imgfn logs --follow; imgfn-demo-role stays; npx imgfn status`);
    expect(runnable(hint, "imgfn")).toBe(hint);
  });
});

describe("steps", () => {
  const capture = () => {
    let text = "";
    return { stream: new Writable({ write: (c, _e, cb) => ((text += c), cb()) }), text: () => text };
  };

  /** A terminal of `columns` for ora (isTTY, columns, the cursor calls), recording each frame's text. */
  const fakeTerminal = (columns: number) => {
    let text = "";
    const frame = (cb?: () => void) => ((text += "\n"), cb?.(), true);
    const stream = Object.assign(new Writable({ write: (c, _e, cb) => ((text += c), cb()) }), {
      isTTY: true,
      columns,
      cursorTo: (_x: number, cb?: () => void) => frame(cb),
      moveCursor: (_x: number, _y: number, cb?: () => void) => frame(cb),
      clearLine: (_d: number, cb?: () => void) => frame(cb),
    });
    // eslint-disable-next-line no-control-regex
    return { stream, frames: (has: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "\n").split("\n").filter((f) => f.includes(has)) };
  };

  for (const [columns, shape] of [
    [40, /Upload.*… 12\/60 processed$/], // no room for the bar: the counts stay
    [70, /Uploading 60 files.*… ▕[█░]{20}▏ 12\/60 processed$/],
  ] as const) {
    it(`a spinner's line fits ${columns} columns: the title is cut, the progress stays`, async () => {
      const term = fakeTerminal(columns);
      const out = new Output({ stderr: term.stream, stdout: capture().stream, interactive: true, color: false });
      await out.step("Uploading 60 files to s3://a-rather-long-bucket-name/uploads/", async (s) => {
        s.progress(12, 60, "processed");
        await new Promise((r) => setTimeout(r, 250)); // a few spinner frames
      });
      const frames = term.frames("12/60");
      expect(frames.length).toBeGreaterThan(0);
      for (const f of frames) {
        expect(displayWidth(f)).toBeLessThanOrEqual(columns);
        expect(f).toMatch(shape);
      }
    });
  }

  it("a step whose work partly failed ends with ⚠, not ✔; progress prints about ten plain lines", async () => {
    const err = capture();
    const out = new Output({ stderr: err.stream, stdout: capture().stream, interactive: false, color: false });
    await out.step("Uploading 60 files", async (s) => {
      for (let i = 1; i <= 60; i++) s.progress(i, 60, "processed");
      s.done("4 of 60 failed", "warn");
    });
    const lines = err.text().trimEnd().split("\n");
    expect(lines.at(-1)).toMatch(/^⚠ Uploading 60 files: 4 of 60 failed \(\d+\.\ds\)$/);
    const progress = lines.filter((l) => l.startsWith("  … "));
    expect(progress.length).toBeGreaterThanOrEqual(9);
    expect(progress.length).toBeLessThanOrEqual(11);
    expect(progress[0]).toBe("  … 1/60 processed");
  });
});
