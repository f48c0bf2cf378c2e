// Maintenance: the work-order facts and history of a device page, and the
// Maintenance view (open work orders, overdue first; preventive
// maintenance overdue and due soon).

import { h, fmtTime } from "./dom.js";
import { t, kindLabel } from "./i18n.js";

const devLink = (id) => h("a", { href: `#/device/${encodeURIComponent(id)}` }, id);

/** The expected return of a work order, with "overdue" when it passed. */
function returnText(o) {
  if (!o.expected_return) return "—";
  return fmtTime(o.expected_return) + (o.overdue ? " · " + t("maint.overdue") : "");
}

/** The open work order and the history, for the device page. */
export function workOrderSection(d) {
  const o = d.work_order;
  const open = o ? h("dl", { class: "facts", id: "work-order", dataset: { overdue: String(!!o.overdue) } },
    h("dt", {}, t("maint.reason")), h("dd", {}, o.reason || "—"),
    h("dt", {}, t("maint.ticket")), h("dd", {}, o.ticket || "—"),
    h("dt", {}, t("maint.by")), h("dd", {}, o.by),
    h("dt", {}, t("maint.start")), h("dd", {}, fmtTime(o.start)),
    h("dt", {}, t("maint.expected")), h("dd", { class: o.overdue ? "error" : "" }, returnText(o))) : null;
  const past = (d.work_orders || []).filter((w) => w.end);
  return h("section", { "aria-labelledby": "wo-h" },
    h("h3", { id: "wo-h" }, t("maint.title")),
    open || h("p", { class: "muted" }, t("maint.none_open")),
    d.pm_due ? h("p", { id: "pm-due" }, t("maint.pm_due", { date: d.pm_due })) : null,
    past.length ? h("table", { id: "wo-history", class: "grid" },
      h("caption", {}, t("maint.history")),
      h("thead", {}, h("tr", {}, ["maint.start", "maint.end", "maint.reason", "maint.ticket", "maint.by"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, past.map((w) => h("tr", {},
        h("td", {}, fmtTime(w.start)), h("td", {}, fmtTime(w.end)), h("td", {}, w.reason || "—"),
        h("td", {}, w.ticket || "—"), h("td", {}, w.ended_by && w.ended_by !== w.by ? `${w.by} → ${w.ended_by}` : w.by))))) : null);
}

/** The Maintenance view. */
export function renderMaintenance(root, v, error) {
  if (error) {
    root.replaceChildren(h("p", { class: "error", role: "alert" }, error));
    return;
  }
  if (!v) {
    root.replaceChildren(h("p", { class: "muted" }, t("alerts.loading")));
    return;
  }
  const pmTable = (id, list) => list.length === 0 ? h("p", { class: "muted", id: id + "-none" }, t("maint.pm_none"))
    : h("table", { id, class: "grid" },
      h("thead", {}, h("tr", {}, ["maint.device", "maint.where", "maint.pm_date", "maint.days"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, list.map((p) => h("tr", { dataset: { dev: p.device } },
        h("td", {}, kindLabel(p.kind), " ", devLink(p.device)), h("td", {}, [p.at, p.unit].filter(Boolean).join(" · ")),
        h("td", {}, p.due), h("td", {}, p.days < 0 ? t("maint.days_over", { n: -p.days }) : t("maint.days_left", { n: p.days }))))));
  root.replaceChildren(
    h("h2", {}, t("maint.open")),
    v.open.length === 0 ? h("p", { class: "muted", id: "wo-open-none" }, t("maint.no_open"))
      : h("table", { id: "wo-open", class: "grid" },
        h("thead", {}, h("tr", {}, ["maint.device", "maint.reason", "maint.ticket", "maint.by", "maint.start", "maint.expected"].map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", {}, v.open.map((o) => h("tr", { dataset: { dev: o.device, overdue: String(o.overdue) }, class: o.overdue ? "overdue" : "" },
          h("td", {}, devLink(o.device)), h("td", {}, o.reason || "—"), h("td", {}, o.ticket || "—"), h("td", {}, o.by),
          h("td", {}, fmtTime(o.start)), h("td", { class: o.overdue ? "error" : "" }, returnText(o)))))),
    h("h2", {}, t("maint.pm_overdue")), pmTable("pm-overdue", v.pm_overdue),
    h("h2", {}, t("maint.pm_soon")), pmTable("pm-soon", v.pm_due_soon));
}
