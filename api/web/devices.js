// The device views: a sortable, filterable table of every device, and a
// device page with status, last values, actions, usage (usage.js) and history.

import { h, fmtTime, fmtAgo } from "./dom.js";
import { t, kindLabel } from "./i18n.js";
import { workOrderSection } from "./maint.js";
import { deviceUsage } from "./usage.js";

const states = ["in_use", "standby", "offline", "fault", "maintenance"];

function stateBadge(state) {
  return h("span", { class: `badge st-${state}`, dataset: { state } },
    h("span", { class: "dev-mark", "aria-hidden": "true" }, t("mark." + state)), " ", t("state." + state));
}

const columns = [
  ["id", (d) => d.id],
  ["kind", (d) => d.kind],
  ["unit", (d) => d.unit],
  ["at", (d) => d.at],
  ["state", (d) => states.indexOf(d.state)],
  ["since", (d) => Date.parse(d.since) || 0],
  ["last_seen", (d) => (d.last_seen ? Date.parse(d.last_seen) : -1)],
  ["transport", (d) => d.transport || ""],
  ["errors", (d) => d.consecutive_failures || 0],
];

function select(id, label, value, options, onChange) {
  return h("label", { for: id }, label, " ",
    h("select", { id, onchange: (e) => onChange(e.target.value) },
      h("option", { value: "" }, t("devices.all")),
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
}

/**
 * Renders the device table into root. ui holds sort and filters and is
 * updated in place; rerender is called when they change.
 */
export function renderDevices(root, m, ui, rerender) {
  const set = (k) => (v) => { ui[k] = v; rerender(); };
  const kinds = [...new Set(m.deviceList.map((d) => d.kind))].sort();
  if (!root.querySelector("table") || root.dataset.lang !== document.documentElement.lang) {
    root.dataset.lang = document.documentElement.lang;
    root.replaceChildren(
      h("h2", {}, t("devices.title")),
      h("form", { class: "filters", role: "search", "aria-label": t("devices.filter"), onsubmit: (e) => e.preventDefault() },
        select("f-kind", t("col.kind"), ui.kind, kinds.map((k) => [k, kindLabel(k)]), set("kind")),
        select("f-unit", t("col.unit"), ui.unit, m.site.units.map((u) => [u.id, u.name || u.id]), set("unit")),
        select("f-state", t("col.state"), ui.state, states.map((s) => [s, t("state." + s)]), set("state")),
        h("label", { for: "f-q" }, t("devices.search"), " ",
          h("input", { id: "f-q", type: "search", value: ui.q, oninput: (e) => set("q")(e.target.value) })),
        h("output", { id: "dev-count", "aria-live": "polite" })),
      h("div", { class: "table-wrap" },
        h("table", { class: "devices", id: "device-table" },
          h("thead", {}, h("tr", {}, columns.map(([key]) => h("th", { scope: "col", dataset: { col: key } },
            h("button", { type: "button", class: "sort", onclick: () => {
              ui.dir = ui.sort === key ? -ui.dir : 1;
              ui.sort = key;
              rerender();
            } }, t("col." + key)))))),
          h("tbody", {}))));
  }
  for (const th of root.querySelectorAll("th[data-col]")) {
    const on = th.dataset.col === ui.sort;
    th.setAttribute("aria-sort", on ? (ui.dir > 0 ? "ascending" : "descending") : "none");
    th.querySelector("button").dataset.dir = on ? (ui.dir > 0 ? "▲" : "▼") : "";
  }
  const q = ui.q.trim().toLowerCase();
  const rows = m.deviceList.filter((d) =>
    (!ui.kind || d.kind === ui.kind) && (!ui.unit || d.unit === ui.unit) && (!ui.state || d.state === ui.state) &&
    (!q || [d.id, d.at, d.unit, d.kind, d.transport, d.last_error].some((v) => (v || "").toLowerCase().includes(q))));
  const key = (columns.find(([k]) => k === ui.sort) || columns[0])[1];
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1) * ui.dir;
  });
  root.querySelector("#dev-count").textContent = t("devices.count", { n: rows.length, total: m.deviceList.length });
  root.querySelector("tbody").replaceChildren(...rows.map((d) => h("tr", { dataset: { dev: d.id, state: d.state } },
    h("th", { scope: "row" }, h("a", { href: `#/device/${encodeURIComponent(d.id)}` }, d.id)),
    h("td", {}, kindLabel(d.kind)),
    h("td", {}, d.unit || t("store")),
    h("td", {}, d.at),
    h("td", { title: d.cause || "" }, stateBadge(d.state)),
    h("td", { title: fmtTime(d.since) }, fmtAgo(d.since, m.asOf)),
    h("td", { title: fmtTime(d.last_seen) }, d.last_seen ? fmtAgo(d.last_seen, m.asOf) : t("never")),
    h("td", {}, d.transport || ""),
    h("td", { title: d.last_error || "", class: d.consecutive_failures ? "warn" : "" },
      d.consecutive_failures ? `${d.consecutive_failures} · ${d.last_error || ""}` : (d.last_error ? d.last_error : "0")))));
}

function fact(label, value) {
  return value === "" || value === null || value === undefined ? null : h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

function moveOptions(m, current) {
  const groups = m.site.units.map((u) => h("optgroup", { label: t("device.beds", { unit: u.name || u.id }) },
    u.beds.map((b) => h("option", { value: b, disabled: b === current }, b))));
  groups.push(h("optgroup", { label: t("device.pools") },
    m.site.pools.map((p) => h("option", { value: p.id, disabled: p.id === current }, p.unit ? `${p.id} (${p.unit})` : `${p.id} (${t("store")})`))));
  return groups;
}

function timeline(history) {
  if (!history.length) return h("p", { class: "muted" }, t("device.no_history"));
  return h("ol", { class: "timeline", reversed: true },
    [...history].reverse().map((tr) => h("li", { dataset: { type: tr.type } },
      h("time", { datetime: tr.time }, fmtTime(tr.time)), " ",
      tr.type === "device"
        ? h("span", {}, stateBadge(tr.from), h("span", { "aria-hidden": "true" }, " → "), h("span", { class: "visually-hidden" }, " to "), stateBadge(tr.to))
        : h("span", { class: "move" }, `${tr.from} → ${tr.to}`),
      tr.cause ? h("span", { class: "cause" }, " — ", tr.cause) : null)));
}

/**
 * Renders a device page. actions.maintenance(on) and actions.move(to)
 * perform the changes (with confirmation and token) and report back.
 */
export function renderDevicePage(root, d, m, actions) {
  const where = d.at_type === "pool" ? `${d.at} (${d.unit || t("store")})` : `${d.at} · ${d.unit}`;
  const adminOn = !!d.maintenance_by;
  const moveSel = h("select", { id: "move-to", required: true },
    h("option", { value: "" }, "—"), moveOptions(m, d.at));
  root.replaceChildren(
    h("p", {}, h("a", { href: "#/devices" }, t("device.back"))),
    h("h2", { id: "device-h", dataset: { dev: d.id } }, `${kindLabel(d.kind)} ${d.id} `, stateBadge(d.state)),
    h("dl", { class: "facts" },
      fact(t("device.status"), `${t("state." + d.state)} · ${t("col.since")} ${fmtTime(d.since)} (${fmtAgo(d.since, d.as_of)})`),
      fact(t("device.cause"), d.cause),
      fact(t("device.location"), where),
      fact(t("col.last_seen"), d.last_seen ? `${fmtTime(d.last_seen)} (${fmtAgo(d.last_seen, d.as_of)})` : t("never")),
      fact(t("col.transport"), d.transport),
      fact(t("device.profile"), [d.profile, d.vendor, d.model].filter(Boolean).join(" · ")),
      fact(t("device.serial"), d.serial),
      fact(t("device.failures"), String(d.consecutive_failures || 0)),
      fact(t("device.last_error"), d.last_error),
      fact(t("device.maint_by"), d.maintenance_by)),
    h("section", { class: "actions", "aria-labelledby": "actions-h" },
      h("h3", { id: "actions-h" }, t("device.actions")),
      h("button", { type: "button", id: "maint-btn", "aria-pressed": String(adminOn), onclick: () => actions.maintenance(!adminOn) },
        t(adminOn ? "device.maint_off" : "device.maint_on")),
      h("form", { class: "move", id: "move-form", onsubmit: (e) => { e.preventDefault(); if (moveSel.value) actions.move(moveSel.value); } },
        h("label", { for: "move-to" }, t("device.move"), " "), moveSel, " ",
        h("button", { type: "submit", id: "move-btn" }, t("device.move_btn"))),
      h("p", { id: "action-msg", role: "status", "aria-live": "polite" })),
    workOrderSection(d),
    h("section", { "aria-labelledby": "values-h" },
      h("h3", { id: "values-h" }, t("device.values")),
      d.values.length ? h("table", { class: "values" },
        h("thead", {}, h("tr", {}, ["device.name", "device.value", "device.unit", "device.mdc"].map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", {}, d.values.map((v) => h("tr", {},
          h("th", { scope: "row" }, v.name), h("td", {}, v.text || String(v.value)), h("td", {}, v.unit || ""), h("td", {}, v.mdc || ""))))) : h("p", { class: "muted" }, t("device.no_values"))),
    deviceUsage(d.id),
    h("section", { "aria-labelledby": "history-h" }, h("h3", { id: "history-h" }, t("device.history")), timeline(d.history)));
}

/** Shows the outcome of an action on the device page. */
export function actionMessage(root, text, isError) {
  const p = root.querySelector("#action-msg");
  if (!p) return;
  p.setAttribute("role", isError ? "alert" : "status");
  p.className = isError ? "error" : "ok";
  p.textContent = text;
}
