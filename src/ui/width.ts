/**
 * Terminal columns, the one place that counts them: what a string takes on screen (ANSI colour
 * codes none, combining marks none, CJK and emoji two) and cutting a string to a width with "…".
 * Tables (table.ts), progress lines (output.ts) and result rows (results/text.ts) all measure here.
 */

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;
// eslint-disable-next-line no-control-regex
const SGR_PARTS = /(\x1b\[[0-9;]*m)/;

/** Terminal columns a code point takes (0 for combining marks, 2 for wide ones). */
function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(SGR, "")) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** The leading characters of `chars` that fit in `budget` columns. */
function take(chars: string[], budget: number): string[] {
  const out: string[] = [];
  let w = 0;
  for (const ch of chars) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > budget) break;
    out.push(ch);
    w += cw;
  }
  return out;
}

/**
 * At most `width` columns; cut text ends in "…" ("middle" keeps both ends, for keys). Colour codes
 * survive a cut at the end, and a cut coloured string ends with a reset.
 */
export function truncate(s: string, width: number, where: "end" | "middle" = "end"): string {
  if (displayWidth(s) <= width) return s;
  if (width <= 0) return "";
  if (width === 1) return "…";
  if (SGR_PARTS.test(s)) return truncateColoured(s, width);
  const chars = Array.from(s);
  if (where === "end") return take(chars, width - 1).join("") + "…";
  const head = take(chars, Math.ceil((width - 1) / 2));
  const tail = take([...chars].reverse(), width - 1 - displayWidth(head.join(""))).reverse();
  return head.join("") + "…" + tail.join("");
}

function truncateColoured(s: string, width: number): string {
  let out = "";
  let shown = 0;
  outer: for (const part of s.split(SGR_PARTS)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      continue;
    }
    for (const ch of part) {
      const cw = charWidth(ch.codePointAt(0)!);
      if (shown + cw > width - 1) break outer;
      out += ch;
      shown += cw;
    }
  }
  return out + "…\x1b[0m";
}
