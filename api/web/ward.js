// The ward view: hospital totals and policy indicators, then each unit as
// a grid of bed tiles. State is always shown as text and a shape, never by
// colour alone.

import { h, replace, fmtTime, pct } from "./dom.js";
import { t, kindLabel } from "./i18n.js";

const bedIcon = { occupied: "●", available: "○", degraded: "▲" };

/**
 * A device chip: kind, state letter, colour and border shape; a clock
 * when its maintenance work order is past its expected return.
 */
export function devChip(d, overdue) {
  const state = t("state." + d.state) + (overdue ? " · " + t("maint.overdue") : "");
  return h("a", {
    class: `dev st-${d.state}`,
    href: `#/device/${encodeURIComponent(d.id)}`,
    "aria-label": t("dev.label", { kind: kindLabel(d.kind), id: d.id, state }),
    title: `${d.id} — ${state}${d.cause ? ": " + d.cause : ""}`,
    dataset: overdue ? { dev: d.id, state: d.state, overdue: "true" } : { dev: d.id, state: d.state },
  },
  h("span", { class: "dev-kind", "aria-hidden": "true" }, kindLabel(d.kind, true)),
  h("span", { class: "dev-mark", "aria-hidden": "true" }, t("mark." + d.state)),
  overdue ? h("span", { class: "dev-overdue", "aria-hidden": "true" }, "⏰") : null);
}

/** chipOf renders device d with what the model knows of its work order. */
const chipOf = (m) => (d) => devChip(d, !!(m.overdue && m.overdue.has(d.id)));

/** The device-state legend. */
export function legend() {
  const states = ["in_use", "standby", "offline", "fault", "maintenance"];
  return h("div", { class: "legend", role: "note", "aria-label": t("legend.title") },
    h("span", { class: "legend-title" }, t("legend.title") + ":"),
    states.map((s) => h("span", { class: `dev st-${s}` },
      h("span", { class: "dev-mark", "aria-hidden": "true" }, t("mark." + s)), " ", t("state." + s))),
    ["occupied", "available", "degraded"].map((s) =>
      h("span", { class: `legend-bed bed-${s}` }, h("span", { "aria-hidden": "true" }, bedIcon[s]), " ", t("bed." + s))));
}

function kpi(key, label, value, extra) {
  return h("div", { class: "kpi", dataset: { kpi: key } }, h("dt", {}, label), h("dd", {}, String(value), extra ? h("small", {}, " ", extra) : null));
}

function kindLine(kind, c) {
  const bad = c.offline + c.fault + c.maintenance;
  return h("li", { dataset: { kind } },
    t("unit.resource", { kind: kindLabel(kind), standby: c.standby, in_use: c.in_use, total: c.total }),
    bad ? h("span", { class: "warn" }, " · ", t("unit.resource_bad", { n: bad })) : null);
}

function metMark(ok) {
  return h("span", { class: ok ? "met" : "not-met" },
    h("span", { "aria-hidden": "true" }, ok ? "✓ " : "✗ "), t(ok ? "policy.met" : "policy.not_met"));
}

function shareRow(key, s) {
  return h("tr", { dataset: { indicator: key } },
    h("th", { scope: "row" }, t("policy." + key)),
    h("td", {}, `${s.configured_beds} (${pct(s.configured_share)}) `, metMark(s.configured_met)),
    h("td", {}, `${s.equipped_beds} (${pct(s.equipped_share)}) `, metMark(s.equipped_met)),
    h("td", {}, pct(s.target)));
}

function staffRow(key, beds, per, ref, ok) {
  return h("tr", { dataset: { indicator: key } },
    h("th", { scope: "row" }, t("policy." + key)),
    h("td", { colspan: 2 }, `1 : ${per.toFixed(2)} (${beds}) `, metMark(ok)),
    h("td", {}, `1 : ${ref}`));
}

/** Renders hospital totals and policy indicators into root. */
export function renderTotals(root, m) {
  const c = m.capacity;
  if (!c) return;
  const hc = c.hospital;
  const p = c.policy;
  const kinds = Object.keys(hc.kinds || {}).sort();
  const rows = [shareRow("icu", p.icu), shareRow("general", p.general),
    shareRow("specialty", p.specialty), shareRow("convertible", p.convertible)];
  rows.push(h("tr", { dataset: { indicator: "equipped_ratio" } },
    h("th", { scope: "row" }, t("policy.equipped_ratio")),
    h("td", { colspan: 3 }, `${hc.beds_equipped} / ${hc.beds_total} (${pct(p.equipped_ratio)})`)));
  if (p.staffing) {
    const st = p.staffing;
    rows.push(staffRow("doctors", st.general_beds, st.doctors_per_bed, st.doctors_ref, st.doctors_met));
    rows.push(staffRow("nurses", st.general_beds, st.nurses_per_bed, st.nurses_ref, st.nurses_met));
  }
  replace(root,
    h("h2", { id: "totals-h" }, t("totals.title"), " ",
      h("small", { class: "muted" }, t("as_of", { time: fmtTime(c.as_of) }))),
    h("div", { class: "totals-grid" },
      h("dl", { class: "kpis", id: "kpis" },
        kpi("total", t("beds.total"), hc.beds_total),
        kpi("equipped", t("beds.equipped"), hc.beds_equipped),
        kpi("occupied", t("beds.occupied"), hc.beds_occupied),
        kpi("available", t("beds.available"), hc.beds_available),
        kpi("degraded", t("beds.degraded"), hc.beds_degraded),
        kpi("ready", t("beds.ready"), hc.convertible_ready)),
      h("ul", { class: "kinds" }, kinds.map((k) => kindLine(k, hc.kinds[k])))),
    h("table", { class: "policy" },
      h("caption", {}, t("policy.title", { year: p.targets_year || p.target_year }), " · ",
        t("policy.total_beds", { n: p.total_beds }),
        p.targets_known ? null : h("span", { class: "warn" }, " ", t("policy.unknown_targets", { level: p.level }))),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("policy.indicator")),
        h("th", { scope: "col" }, t("policy.configured"), h("br"), h("small", {}, t("policy.share"))),
        h("th", { scope: "col" }, t("policy.equipped"), h("br"), h("small", {}, t("policy.share"))),
        h("th", { scope: "col" }, t("policy.target")))),
      h("tbody", {}, rows)));
}

function bedTile(b, devs, open, chip) {
  const eq = b.equipped ? t("bed.equipped") : t("bed.not_equipped");
  const reasons = b.reason || [];
  const pendingReasons = (b.pending && b.pending.reason) || [];
  const why = reasons.length ? reasons : pendingReasons;
  const title = [`${b.id}: ${t("bed." + b.state)}, ${eq}`, ...why].join("\n");
  const chips = (b.devices || []).map((id) => devs.get(id)).filter(Boolean).map(chip);
  return h("li", { class: `bed bed-${b.state}`, title, dataset: { bed: b.id, state: b.state, equipped: String(b.equipped) } },
    h("h4", { class: "bed-id" }, b.id),
    h("p", { class: "bed-state" },
      h("span", { class: "bed-icon", "aria-hidden": "true" }, bedIcon[b.state] || "?"), " ",
      h("strong", {}, t("bed." + b.state)), " · ",
      h("span", { class: "bed-eq" }, h("span", { "aria-hidden": "true" }, b.equipped ? "✓ " : "✗ "), eq)),
    chips.length ? h("div", { class: "devs" }, chips) : h("p", { class: "muted" }, t("bed.no_devices")),
    b.pending ? h("p", { class: "pending" }, t("bed.pending", { state: t("bed." + b.pending.state), time: fmtTime(b.pending.due) })) : null,
    why.length ? h("details", { open: open.has(b.id), dataset: { key: b.id } },
      h("summary", {}, t("bed.why")),
      h("ul", { class: "reasons" }, why.map((r) => h("li", {}, r)))) : null);
}

function unitSection(u, m, open) {
  const cap = (m.capacity?.units || []).find((c) => c.unit === u.id);
  const byBed = new Map(m.beds.map((b) => [b.id, b]));
  const beds = u.beds.map((id) => byBed.get(id)).filter(Boolean);
  const pools = m.site.pools.filter((p) => p.unit === u.id);
  const headId = `unit-${u.id}`;
  const facts = [];
  if (cap) {
    facts.push(h("li", {}, t("unit.summary", { occ: cap.beds_occupied, avail: cap.beds_available, deg: cap.beds_degraded, total: cap.beds_total })));
    if (u.class === "convertible") {
      facts.push(h("li", { class: "ready", dataset: { ready: cap.convertible_ready } },
        t("unit.ready", { ready: cap.convertible_ready, total: cap.beds_total })));
    }
    for (const k of ["ecmo", "crrt"]) {
      const c = cap.kinds?.[k];
      if (c && c.total > 0) facts.push(kindLine(k, c));
    }
    const ev = cap.evidence || { stale: [], missing: [] };
    const n = ev.stale.length + ev.missing.length;
    facts.push(h("li", { class: cap.verified ? "met" : "not-met", title: [...ev.stale, ...ev.missing].join(", ") },
      h("span", { "aria-hidden": "true" }, cap.verified ? "✓ " : "⚠ "),
      cap.verified ? t("unit.verified") : t("unit.unverified", { n })));
  }
  const poolChips = pools.map((p) => h("div", { class: "pool", dataset: { pool: p.id } },
    h("span", { class: "pool-id" }, p.id, ": "),
    m.deviceList.filter((d) => d.at === p.id).map(chipOf(m))));
  return h("section", { class: `unit unit-${u.class}`, "aria-labelledby": headId, dataset: { unit: u.id } },
    h("h3", { id: headId }, u.name ? `${u.name} (${u.id})` : u.id, " ",
      h("span", { class: "unit-class" }, t("class." + u.class), u.subtype ? ` · ${u.subtype}` : "")),
    h("ul", { class: "unit-facts" }, facts),
    h("ul", { class: "beds", "aria-label": u.id }, beds.map((b) => bedTile(b, m.devices, open, chipOf(m)))),
    poolChips.length ? h("div", { class: "pools", "aria-label": t("unit.pools") }, poolChips) : null);
}

/** Renders every unit's bed grid and the hospital's store into root. */
export function renderWard(root, m, open) {
  if (!m.site || !m.beds) return;
  const store = m.site.pools.filter((p) => !p.unit);
  replace(root,
    h("h2", { class: "visually-hidden" }, t("nav.ward")),
    legend(),
    m.site.units.map((u) => unitSection(u, m, open)),
    store.length ? h("section", { class: "unit store", "aria-labelledby": "unit-store" },
      h("h3", { id: "unit-store" }, t("store")),
      h("div", { class: "pools" }, store.map((p) => h("div", { class: "pool", dataset: { pool: p.id } },
        h("span", { class: "pool-id" }, p.id, ": "),
        m.deviceList.filter((d) => d.at === p.id).map(chipOf(m)))))) : null);
}
