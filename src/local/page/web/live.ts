// The live page of `imgfn dev`: uploads through this page's own server, then shows each result
// as it is written and the function's log lines, over one server-sent event stream.
import { el, renderCard } from "../../../results/web/card.js";
import { type CardData, type LogLineData, formatDuration, formatPercent } from "../../../results/view.js";

const cards = document.getElementById("cards")!;
const empty = document.getElementById("empty")!;
const count = document.getElementById("result-count")!;
const log = document.getElementById("log")!;
const uploads = document.getElementById("uploads")!;
const connection = document.getElementById("connection")!;
const input = document.getElementById("file") as HTMLInputElement;
const shown = new Map<string, { when: string; node: HTMLElement }>();
/** The upload rows waiting for their result, by key. */
const waiting = new Map<string, HTMLElement>();
const MAX_LOG_LINES = 500;

function showResult(card: CardData, fresh: boolean): void {
  const had = shown.get(card.key);
  if (had && had.when > card.when) return; // an older result than the one on screen
  const node = renderCard(card);
  if (fresh) node.classList.add("fresh");
  if (had) had.node.replaceWith(node);
  if (!had || fresh) cards.prepend(node);
  shown.set(card.key, { when: card.when, node });
  empty.hidden = shown.size > 0;
  const row = waiting.get(card.key);
  if (row && fresh) {
    waiting.delete(card.key);
    const top = card.predictions[0];
    row.textContent = `${card.key}: ${card.status === "classified" && top ? `${top.label} ${formatPercent(top.score)}` : `${card.error?.code ?? card.status}`}`;
  }
  count.textContent = `(${shown.size})`;
}

function logLine(line: LogLineData): void {
  const time = new Date(line.timestamp).toISOString().slice(11, 23);
  const item = el("li", { class: `kind-${line.kind}`, "data-kind": line.kind, ...(line.key ? { "data-key": line.key } : {}) }, el("span", { class: "time" }, time), " ");
  const temp = line.cold === undefined ? [] : [el("span", { class: line.cold ? "cold" : "warm" }, line.cold ? "cold" : "warm"), " "];
  if (line.kind === "report") {
    item.append(el("span", { class: "tag" }, "REPORT"), " ", line.key ?? (line.requestId ?? "").slice(0, 8), " ", ...temp,
      `${formatDuration(line.durationMs)} (billed ${line.billedMs} ms)`, line.initMs !== undefined ? `, init ${formatDuration(line.initMs)}` : "", `, ${line.memoryUsedMb}/${line.memorySizeMb} MB`);
  } else if (line.kind === "classified") {
    item.append(el("span", { class: "tag" }, "OK"), " ", line.key ?? "", " → ", line.top1 ? `${line.top1.label} ${formatPercent(line.top1.score)}` : "", " ", ...temp, formatDuration(line.durationMs));
  } else if (line.kind === "start" || line.kind === "end") {
    item.append(line.text.split(" Version:")[0]);
  } else if (line.kind === "other") {
    item.append(line.text);
  } else {
    item.append(el("span", { class: "tag" }, line.kind.toUpperCase()), " ", line.key ? `${line.key} ` : "", line.text);
  }
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(item);
  while (log.children.length > MAX_LOG_LINES) log.firstElementChild!.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

async function upload(file: File): Promise<void> {
  const row = el("li", {}, `${file.name}: uploading…`);
  uploads.prepend(row);
  try {
    const res = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file, headers: { "content-type": file.type || "application/octet-stream" } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
    row.textContent = `${file.name}: uploaded as ${body.key} (${body.size} bytes); waiting for the function…`;
    waiting.set(body.key, row);
  } catch (err) {
    row.className = "failed";
    row.textContent = `${file.name}: not uploaded — ${(err as Error).message}`;
  }
}

function uploadAll(files: FileList | null): void {
  for (const f of Array.from(files ?? [])) void upload(f);
}

input.addEventListener("change", () => {
  uploadAll(input.files);
  input.value = "";
});
// dropping anywhere on the page uploads; without preventDefault the browser would open the file
let depth = 0;
document.addEventListener("dragenter", (e) => {
  e.preventDefault();
  if (++depth === 1) document.body.classList.add("dragging");
});
document.addEventListener("dragleave", () => {
  if (--depth <= 0) {
    depth = 0;
    document.body.classList.remove("dragging");
  }
});
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => {
  e.preventDefault();
  depth = 0;
  document.body.classList.remove("dragging");
  uploadAll(e.dataTransfer?.files ?? null);
});

// the stream first, then the list: a result written in between arrives twice, never not at all
const events = new EventSource("/api/events");
events.addEventListener("open", () => (connection.textContent = "connected: results and log lines appear as the function writes them"));
events.addEventListener("error", () => (connection.textContent = "disconnected from imgfn dev; retrying…"));
events.addEventListener("result", (e) => showResult(JSON.parse((e as MessageEvent).data), true));
events.addEventListener("log", (e) => logLine(JSON.parse((e as MessageEvent).data)));
fetch("/api/results")
  .then((r) => r.json())
  .then((list: CardData[]) => {
    for (const card of list.reverse()) showResult(card, false);
  })
  .catch((err) => (connection.textContent = `could not list results: ${(err as Error).message}`));
