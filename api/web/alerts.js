// The alerts view: the native alerts firing and pending now (an
// engineer acknowledges one to stop its repeats), each receiver's
// delivery state, and the alert history.

import { h, fmtTime, fmtAgo } from "./dom.js";
import { t, getLang } from "./i18n.js";

const text = (x) => (x ? (getLang() === "zh" ? x.zh : x.en) || x.en || "" : "");

/** The nav badge: how many alerts fire now. */
export function alertBadge(el, view) {
  const n = view ? (view.active || []).filter((a) => a.status === "firing").length : 0;
  el.textContent = n > 0 ? String(n) : "";
  el.hidden = n === 0;
  el.setAttribute("aria-label", t("alerts.badge", { n }));
}

/** Renders the alerts view into root; ack(id) acknowledges one. */
export function renderAlerts(root, view, error, ack) {
  if (error) {
    root.replaceChildren(h("p", { class: "error", role: "alert" }, error));
    return;
  }
  if (!view) {
    root.replaceChildren(h("p", { class: "muted" }, t("alerts.loading")));
    return;
  }
  const now = view.as_of;
  // Absent lists (an older gateway, no alerts configured) are empty.
  view = { ...view, active: view.active || [], receivers: view.receivers || [], history: view.history || [] };
  const active = view.active.length === 0
    ? h("p", { id: "alerts-none", class: "muted" }, t("alerts.none"))
    : h("table", { id: "alerts-active", class: "grid" },
      h("thead", {}, h("tr", {},
        ["alerts.col.severity", "alerts.col.status", "alerts.col.alert", "alerts.col.cause", "alerts.col.since", "alerts.col.ack"]
          .map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, view.active.map((a) => h("tr", { dataset: { alert: a.id }, class: `sev-${a.severity}` },
        h("td", {}, h("span", { class: `sev sev-${a.severity}` }, t("alerts.sev." + a.severity))),
        h("td", {}, t("alerts.status." + a.status)),
        h("td", {}, a.subject.device
          ? [text(a.summary), " ", h("a", { href: `#/device/${encodeURIComponent(a.subject.device)}` }, "→")]
          : text(a.summary)),
        h("td", { class: "cause" }, a.cause),
        h("td", {}, fmtTime(a.starts_at), h("br"), h("span", { class: "muted" }, fmtAgo(a.starts_at, now))),
        h("td", {}, a.ack
          ? h("span", { class: "acked" }, t("alerts.acked", { by: a.ack.by, time: fmtTime(a.ack.at) }))
          : a.status === "firing"
            ? h("button", { type: "button", class: "ack", dataset: { ack: a.id }, onclick: () => ack(a.id) }, t("alerts.ack"))
            : "")))));
  const receivers = view.receivers.length === 0
    ? h("p", { class: "muted" }, t("alerts.no_receivers"))
    : h("ul", { id: "alerts-receivers" }, view.receivers.map((r) => h("li", { dataset: { receiver: r.name, up: String(r.up) } },
      h("strong", {}, r.name), ` (${r.type}): `,
      r.up ? t("alerts.rcv.up", { n: r.delivered }) : h("span", { class: "error" }, t("alerts.rcv.down", { error: r.last_error, since: fmtTime(r.failing_since) })),
      r.queued > 0 ? " " + t("alerts.rcv.queued", { n: r.queued }) : "")));
  const history = view.history.length === 0
    ? h("p", { class: "muted" }, t("alerts.history.none"))
    : h("table", { id: "alerts-history", class: "grid" },
      h("thead", {}, h("tr", {}, ["alerts.col.time", "alerts.col.event", "alerts.col.alert", "alerts.col.by"]
        .map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, view.history.map((e) => h("tr", { dataset: { event: e.event, alert: e.alert_id } },
        h("td", {}, fmtTime(e.at)),
        h("td", {}, t("alerts.event." + e.event)),
        h("td", {}, text(e.summary)),
        h("td", {}, e.by ? `${e.by}${e.comment ? ": " + e.comment : ""}` : "")))));
  root.replaceChildren(
    h("h2", {}, t("alerts.active")), active,
    h("h2", {}, t("alerts.receivers")), receivers,
    h("h2", {}, t("alerts.history")), history,
    h("p", { class: "muted" }, t("alerts.note")));
}
