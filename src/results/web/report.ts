// The report page: reads the embedded ReportData, draws the summary and the cards, and filters
// them by status, label and key text. Everything it needs is inside the HTML file.
import { type ReportData, formatDuration } from "../view.js";
import { el, renderCard } from "./card.js";

const data: ReportData = JSON.parse(document.getElementById("report-data")!.textContent!);

function stat(label: string, value: string, detail = ""): HTMLElement {
  return el("div", { class: "stat" }, el("dt", {}, label), el("dd", {}, value, ...(detail ? [el("span", { class: "detail" }, detail)] : [])));
}

function summary(): HTMLElement {
  const s = data.summary;
  const statuses = Object.entries(s.byStatus).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
  const memory = s.maxMemoryUsedMb !== undefined ? `${s.maxMemoryUsedMb} / ${s.memorySizeMb} MB` : "-";
  const list = el("dl", { class: "stats" },
    stat("results", String(s.total), statuses),
    stat("function time p50 / p95", `${formatDuration(s.functionMs.p50)} / ${formatDuration(s.functionMs.p95)}`, `${s.functionMs.samples} timed`),
    stat("cold starts", String(s.coldStarts), s.initMs.p50 !== undefined ? `init p50 ${formatDuration(s.initMs.p50)}` : ""),
    stat("max memory used / size", memory, s.reports ? `${s.reports} REPORT lines` : "no REPORT lines found"),
    stat("cost per 1000 images", s.cost ? `$${s.cost.per1000Images.toFixed(4)}` : "-", s.billedMs.mean !== undefined ? `billed mean ${formatDuration(s.billedMs.mean)}` : ""),
  );
  const section = el("section", { class: "summary", "aria-labelledby": "summary-title" }, el("h2", { id: "summary-title" }, "Summary"), list);
  const tops = el("ol", { class: "tops" });
  for (const t of s.topLabels) tops.append(el("li", {}, `${t.label} `, el("span", { class: "detail" }, `× ${t.count}`)));
  if (s.topLabels.length) section.append(el("h3", {}, "Top labels"), tops);
  if (s.errorCodes.length) {
    const codes = el("ul", { class: "tops" });
    for (const e of s.errorCodes) codes.append(el("li", {}, el("code", {}, e.code), ` × ${e.count}`));
    section.append(el("h3", {}, "Errors"), codes);
  }
  section.append(el("p", { class: "assumption" }, s.cost ? `Cost assumption: ${s.cost.assumption}.` : "No cost estimate: no REPORT lines were found for these results' requests."));
  return section;
}

function option(value: string, text: string): HTMLOptionElement {
  const o = el("option", { value }, text);
  return o;
}

function filters(cards: HTMLElement[], count: HTMLElement): HTMLElement {
  const status = el("select", { id: "filter-status" }, option("", "all statuses"));
  for (const k of Object.keys(data.summary.byStatus).sort()) status.append(option(k, `${k} (${data.summary.byStatus[k]})`));
  const labels = new Map<string, number>();
  for (const c of data.cards) if (c.status === "classified" && c.predictions[0]) labels.set(c.predictions[0].label, (labels.get(c.predictions[0].label) ?? 0) + 1);
  const label = el("select", { id: "filter-label" }, option("", "all labels"));
  for (const [l, n] of [...labels].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) label.append(option(l, `${l} (${n})`));
  const text = el("input", { id: "filter-text", type: "search", placeholder: "key contains…", autocomplete: "off" });
  const apply = () => {
    let shown = 0;
    const t = text.value.trim().toLowerCase();
    for (const card of cards) {
      const ok = (!status.value || card.dataset.status === status.value) && (!label.value || card.dataset.label === label.value) && (!t || (card.dataset.key ?? "").toLowerCase().includes(t));
      card.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = `${shown} of ${cards.length} shown`;
  };
  status.addEventListener("change", apply);
  label.addEventListener("change", apply);
  text.addEventListener("input", apply);
  apply();
  const field = (id: string, name: string, control: HTMLElement) => el("span", { class: "field" }, el("label", { for: id }, name), control);
  const form = el("form", { class: "filters", role: "search", "aria-label": "filter results" }, field("filter-status", "Status", status), field("filter-label", "Top label", label), field("filter-text", "Key", text));
  form.addEventListener("submit", (e) => e.preventDefault()); // Enter in the key box must not reload the page
  return form;
}

const main = document.querySelector("main")!;
document.title = data.title;
main.append(el("h1", {}, data.title), el("p", { class: "sub" }, `${data.source} · generated ${new Date(data.generatedAt).toLocaleString()}`), summary());
const cards = data.cards.map(renderCard);
const count = el("p", { class: "count", "aria-live": "polite" });
const grid = el("section", { class: "cards", "aria-label": "results" }, ...cards);
main.append(el("h2", {}, "Images"), filters(cards, count), count, grid);
