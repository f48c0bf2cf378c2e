// The Audit view: who changed what, from where, and what came of it, from
// GET api/v1/audit, filtered by device, who, action and dates, with the
// same selection as a CSV download.

import { h, fmtTime } from "./dom.js";
import { t } from "./i18n.js";

/** Actions the audit trail records, for the filter. */
const actions = ["maintenance", "assignment", "reload", "alert_ack", "sign_in"];

/** The query string of filter f (an object of the form's values). */
export function auditQuery(f, extra) {
  const q = new URLSearchParams();
  for (const k of ["device", "who", "action", "from", "to"]) if (f[k]) q.set(k, f[k]);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return q.toString();
}

/**
 * renderAudit draws the view: the filter form (apply(filter) on submit), the
 * CSV link and the entries (v: {entries, limited}), or error.
 */
export function renderAudit(root, v, error, filter, apply) {
  const field = (name, type, label) => h("label", {},
    t(label), " ", h("input", { id: `audit-${name}`, name, type, value: filter[name] || "", autocomplete: "off" }));
  const form = h("form", { id: "audit-filter", class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const fd = new FormData(e.target);
    apply(Object.fromEntries([...fd.entries()].map(([k, val]) => [k, String(val).trim()])));
  } },
  field("device", "text", "audit.device"),
  field("who", "text", "audit.who"),
  h("label", {}, t("audit.action"), " ", h("select", { id: "audit-action", name: "action" },
    h("option", { value: "" }, t("audit.any")),
    actions.map((a) => h("option", { value: a, selected: filter.action === a }, t("audit.action." + a))))),
  field("from", "date", "audit.from"),
  field("to", "date", "audit.to"),
  h("button", { type: "submit", id: "audit-apply" }, t("audit.apply")));
  const csv = h("a", { id: "audit-csv", href: "api/v1/audit?" + auditQuery(filter, { format: "csv", limit: "10000" }), download: "" }, t("audit.csv"));
  const head = [h("h2", {}, t("audit.title")), h("p", { class: "muted" }, t("audit.help")), form, h("p", {}, csv)];
  if (error) {
    root.replaceChildren(...head, h("p", { class: "error", role: "alert", id: "audit-error" }, error));
    return;
  }
  if (!v) {
    root.replaceChildren(...head, h("p", { class: "muted" }, t("alerts.loading")));
    return;
  }
  const cols = ["audit.time", "audit.who", "audit.remote", "audit.action", "audit.device", "audit.detail", "audit.status", "audit.result"];
  root.replaceChildren(...head,
    v.entries.length === 0 ? h("p", { class: "muted", id: "audit-none" }, t("audit.none"))
      : h("table", { id: "audit-table", class: "grid" },
        h("thead", {}, h("tr", {}, cols.map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", {}, v.entries.map((e) => h("tr", { class: e.status >= 400 ? "refused" : "", dataset: { action: e.action, who: e.who } },
          h("td", {}, fmtTime(e.time)), h("td", {}, e.who), h("td", {}, e.remote), h("td", {}, t("audit.action." + e.action)),
          h("td", {}, e.device || ""), h("td", {}, e.detail || ""), h("td", {}, e.status ? String(e.status) : ""), h("td", {}, e.result))))),
    ...(v.limited ? [h("p", { class: "muted", id: "audit-limited" }, t("audit.limited", { n: v.entries.length }))] : []));
}
