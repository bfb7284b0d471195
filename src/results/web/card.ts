// One result as a card: thumbnail, key, top-k as labelled bars, or the error code and message.
// Shared by the report and the live page. Text goes in with textContent only (keys are user data).
import { type CardData, formatDuration, formatPercent } from "../view.js";

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

/** A drawn placeholder (an SVG data URI, so it is an image that loads offline like the others). */
function placeholder(text: string): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120" viewBox="0 0 160 120"><rect width="160" height="120" fill="#e5e7eb"/><path d="M52 84l20-26 14 18 10-12 16 20z" fill="#9ca3af"/><circle cx="62" cy="44" r="8" fill="#9ca3af"/><text x="80" y="106" font-family="sans-serif" font-size="11" text-anchor="middle" fill="#4b5563">${text}</text></svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

export function renderBars(predictions: CardData["predictions"]): HTMLOListElement {
  const list = el("ol", { class: "bars" });
  for (const p of predictions) {
    const pct = formatPercent(p.score);
    const fill = el("span", { class: "fill" });
    fill.style.width = `${Math.max(0, Math.min(100, p.score * 100)).toFixed(1)}%`;
    list.append(
      el(
        "li",
        { class: "bar", "data-label": p.label, "data-score": String(p.score) },
        el("span", { class: "bar-label", title: p.label }, p.label),
        el("span", { class: "track", "aria-hidden": "true" }, fill),
        el("span", { class: "bar-value" }, pct),
      ),
    );
  }
  return list;
}

export function renderCard(card: CardData): HTMLElement {
  const top = card.predictions[0];
  const article = el("article", {
    class: `card status-${card.status}`,
    tabindex: "0",
    "data-key": card.key,
    "data-status": card.status,
    "data-label": top?.label ?? "",
    "aria-label": `${card.key}: ${top ? `${top.label} ${formatPercent(top.score)}` : `${card.error?.code ?? card.status}`}`,
  });
  const img = el("img", {
    class: "thumb",
    alt: card.thumbnail ? `preview of ${card.key}` : `no preview of ${card.key}${card.thumbnailProblem ? `: ${card.thumbnailProblem}` : ""}`,
    src: card.thumbnail ?? placeholder("no preview"),
    width: "160",
    height: "120",
    loading: "lazy",
    decoding: "async",
  });
  if (card.thumbnailProblem) img.title = card.thumbnailProblem;
  const meta = [card.functionMs !== undefined ? formatDuration(card.functionMs) : "", card.coldStart ? "cold" : card.coldStart === false ? "warm" : "", new Date(card.when).toLocaleString()].filter(Boolean).join(" · ");
  const body = el("div", { class: "card-body" }, el("h3", { class: "key" }, card.key), el("p", { class: "meta" }, meta));
  if (card.status === "classified") body.append(renderBars(card.predictions));
  else body.append(el("p", { class: "error" }, el("code", { class: "error-code" }, card.error?.code ?? "ERROR"), " ", el("span", { class: "error-message" }, card.error?.message ?? "")));
  article.append(img, body);
  return article;
}
