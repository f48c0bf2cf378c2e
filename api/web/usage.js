// Usage and availability (GET api/v1/usage): a stacked bar chart of the
// hours per day in each state, availability and utilisation over the range
// and a CSV download, on the device page and in the Usage view (#/usage:
// per unit and per kind; #/usage/unit/ID and #/usage/kind/ID: one unit's
// or kind's chart). Charts are SVG built with the DOM: no library, no
// inline style, every state told by its legend, a hatch and a tooltip as
// well as its colour, and the figures as a table too.

import { h } from "./dom.js";
import { t, getLang, kindLabel } from "./i18n.js";
import { getJSON } from "./api.js";

const states = ["in_use", "standby", "offline", "fault", "maintenance"];
const ranges = [7, 30, 90];
const enc = encodeURIComponent;

// The SVG namespace, as the HTML parser gives it to an <svg> element
// (spelled out, it reads as a link to another origin, which the dashboard
// must not have).
const svgNS = new DOMParser().parseFromString("<svg></svg>", "text/html").body.firstChild.namespaceURI;

/** s builds an SVG element, as h does an HTML one (attributes as given). */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const hoursOf = (r, st) => r[st + "_hours"] || 0;
const fmtH = (x) => t("usage.hours", { h: (x || 0).toFixed(1) });
const fmtPct = (p) => (p === null || p === undefined ? "—" : `${p.toFixed(1)} %`);

/** The query of a report: by, id (optional), the last days days, format. */
function usageURL(by, id, days, csv) {
  const q = new URLSearchParams({ by, days: String(days) });
  if (id) q.set("id", id);
  if (csv) q.set("format", "csv");
  return "api/v1/usage?" + q.toString();
}

// Hatches tell offline, fault and maintenance apart without colour. A
// hatched state is filled with its pattern (an attribute); the others by
// their class (a class's fill would win over the attribute).
const hatch = { offline: "M0,3H6", fault: "M0,6L6,0M-1,1L1,-1M5,7L7,5", maintenance: "M3,0V6" };
const paint = (prefix, st) => (hatch[st] ? { fill: `url(#${prefix}-${st})` } : { class: `u-${st}` });

function patterns(prefix) {
  return s("defs", {}, Object.entries(hatch).map(([st, d]) =>
    s("pattern", { id: `${prefix}-${st}`, width: 6, height: 6, patternUnits: "userSpaceOnUse" },
      s("rect", { width: 6, height: 6, class: `u-${st}` }), s("path", { d, class: "u-hatch" }))));
}

/** The legend: each state's swatch (with its hatch) and name. */
function legend(prefix) {
  const key = (attrs, label) => h("li", {},
    s("svg", { width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true" },
      s("rect", { x: 0.5, y: 0.5, width: 13, height: 13, ...attrs })), " ", label);
  return h("ul", { class: "usage-legend" },
    states.map((st) => key(paint(prefix, st), t("state." + st))),
    key({ class: "u-nodata" }, t("usage.no_data")));
}

/** The top of the hours axis: 24 h per device, so a full bar is a full day. */
function axisTop(rows) {
  const most = Math.max(24, ...rows.map((r) => r.observed_hours || 0));
  return Math.ceil(most / 24 - 1e-9) * 24;
}

/** The labelled hours: every 6 h of one device's day, else round steps. */
function ticks(top) {
  if (top <= 24) return [0, 6, 12, 18, 24];
  const raw = top / 4, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((x) => x >= raw);
  const out = [];
  for (let v = 0; v <= top + 1e-9; v += step) out.push(v);
  return out;
}

/**
 * chart draws rows (one per day, oldest first) as stacked bars of hours
 * per state; id names the <svg> and prefixes its patterns.
 */
function chart(id, rows) {
  const W = 760, H = 226, left = 44, right = 8, top = 16, bottom = 26;
  const pw = W - left - right, ph = H - top - bottom;
  const max = axisTop(rows);
  const slot = pw / Math.max(1, rows.length);
  const bw = Math.max(1, slot * 0.75);
  const y = (hrs) => top + ph - (ph * hrs) / max;
  const grid = ticks(max).map((v) => s("g", { class: "u-grid" },
    s("line", { x1: left, x2: W - right, y1: y(v), y2: y(v) }),
    s("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "u-axis" }, String(v))));
  const unit = s("text", { x: 4, y: 10, class: "u-axis" }, t("usage.axis"));
  const every = Math.ceil(rows.length / 10);
  const bars = rows.map((r, i) => {
    const x = left + i * slot + (slot - bw) / 2;
    const label = rows.length - 1 - i;
    const tick = label % every === 0 ? s("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle", class: "u-axis" }, r.day.slice(5)) : null;
    if (r.no_data) {
      return s("g", { class: "usage-day", "data-day": r.day, "data-nodata": "true" },
        s("title", {}, `${r.day}: ${t("usage.no_data")}`),
        s("rect", { x, y: y(max), width: bw, height: ph, class: "u-nodata" }), tick);
    }
    let acc = 0;
    const tip = `${r.day}: ` + states.map((st) => `${t("state." + st)} ${fmtH(hoursOf(r, st))}`).join(", ") +
      ` · ${t("usage.availability")} ${fmtPct(r.availability_pct)} · ${t("usage.utilisation")} ${fmtPct(r.utilisation_pct)}`;
    const segs = states.filter((st) => hoursOf(r, st) > 0).map((st) => {
      const hrs = hoursOf(r, st);
      const p = paint(id, st);
      const seg = s("rect", { x, y: y(acc + hrs), width: bw, height: Math.max(0, y(acc) - y(acc + hrs)),
        class: p.class ? `u-seg ${p.class}` : "u-seg", fill: p.fill, "data-state": st });
      acc += hrs;
      return seg;
    });
    return s("g", { class: "usage-day", "data-day": r.day, "data-nodata": "false" }, s("title", {}, tip), segs, tick);
  });
  const from = rows.length ? rows[0].day : "", to = rows.length ? rows[rows.length - 1].day : "";
  return s("svg", { id, class: "usage-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("usage.chart", { from, to }) },
    patterns(id), grid, unit, bars);
}

/** The figures of a range (a report's total row). */
function figures(id, total, rows) {
  const withData = rows.filter((r) => !r.no_data).length;
  const fig = (name, label, value) => h("div", {}, h("dt", {}, label), h("dd", { dataset: { figure: name } }, value));
  return h("dl", { class: "usage-figures", id },
    fig("availability", t("usage.availability"), fmtPct(total.availability_pct)),
    fig("utilisation", t("usage.utilisation"), fmtPct(total.utilisation_pct)),
    fig("observed", t("usage.observed"), fmtH(total.observed_hours)),
    fig("days", t("usage.days_data"), t("usage.days_of", { n: withData, total: rows.length })));
}

/** The rows as a table: what the chart shows, for screen readers and copying. */
function table(rows) {
  return h("details", { class: "usage-table" }, h("summary", {}, t("usage.table")),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("usage.day")),
        states.map((st) => h("th", { scope: "col" }, t("state." + st))),
        ["usage.availability", "usage.utilisation"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, rows.map((r) => h("tr", { dataset: { day: r.day } }, h("th", { scope: "row" }, r.day),
        r.no_data ? h("td", { colspan: 7, class: "muted" }, t("usage.no_data"))
          : [states.map((st) => h("td", {}, hoursOf(r, st).toFixed(1))), h("td", {}, fmtPct(r.availability_pct)), h("td", {}, fmtPct(r.utilisation_pct))])))));
}

/** The range buttons; pick(days) is called with the one chosen. */
function rangeButtons(current, pick) {
  return h("div", { class: "usage-range", role: "group", "aria-label": t("usage.range") },
    ranges.map((n) => h("button", { type: "button", dataset: { days: String(n) }, "aria-pressed": String(n === current), onclick: () => pick(n) },
      t("usage.days", { n }))));
}

/**
 * redraw replaces root's children with nodes, keeping the keyboard on the
 * range button it was on (the buttons are drawn anew with the chart).
 */
function redraw(root, nodes) {
  const a = document.activeElement;
  const days = a && root.contains(a) && a.dataset ? a.dataset.days : "";
  root.replaceChildren(...nodes);
  if (days) root.querySelector(`.usage-range button[data-days="${days}"]`)?.focus();
}

/** One group's chart, figures, table and CSV link (rows: its days). */
function groupBlock(prefix, rows, total, csvHref) {
  return [figures(prefix + "-figures", total, rows), chart(prefix + "-chart", rows), legend(prefix + "-chart"), table(rows),
    h("p", {}, h("a", { id: prefix + "-csv", class: "usage-csv", href: csvHref, download: "" }, t("usage.csv")))];
}

// ---- the device page

const dev = { id: "", days: 30, lang: "", node: null, report: null, error: "", loaded: 0, seq: 0 };

function drawDevice() {
  const body = dev.error ? [h("p", { class: "error", role: "alert" }, dev.error)]
    : !dev.report ? [h("p", { class: "muted" }, t("usage.loading"))]
      : groupBlock("dev-usage", dev.report.rows, dev.report.totals[0] || dev.report.total, usageURL("device", dev.id, dev.days, true));
  redraw(dev.node, [h("h3", { id: "usage-h" }, t("usage.device_title")),
    rangeButtons(dev.days, (n) => { dev.days = n; loadDevice(); }), ...body]);
}

async function loadDevice() {
  const { id, days } = dev;
  const seq = ++dev.seq;
  dev.loaded = Date.now();
  try {
    const rep = await getJSON(usageURL("device", id, days, false));
    if (seq !== dev.seq) return;
    dev.report = rep;
    dev.error = "";
  } catch (e) {
    if (seq !== dev.seq) return;
    dev.report = null;
    dev.error = t("err.load", { what: t("usage.device_title"), error: e.reason || e.message });
  }
  drawDevice();
}

/**
 * The device page's usage section for device id. The page is drawn anew
 * on every change of the device; the section is kept (and its data, for a
 * minute), so that a live update neither refetches it nor resets the
 * range chosen.
 */
export function deviceUsage(id) {
  if (!dev.node || dev.id !== id) {
    Object.assign(dev, { id, report: null, error: "", lang: getLang() });
    dev.node = h("section", { id: "dev-usage", "aria-labelledby": "usage-h" });
    drawDevice();
    loadDevice();
  } else if (dev.lang !== getLang()) {
    dev.lang = getLang();
    drawDevice();
  } else if (Date.now() - dev.loaded > 60000) {
    loadDevice();
  }
  return dev.node;
}

// ---- the Usage view

const view = { hash: "", days: 30, lang: "", site: null, reports: {}, error: "", seq: 0 };

// Leaving the view forgets its page: coming back fetches afresh.
window.addEventListener("hashchange", () => { if (!location.hash.startsWith("#/usage")) view.hash = ""; });

/** The page a hash names: the overview, or one unit's or kind's. */
function pageOf(hash) {
  const m = /^#\/usage\/(unit|kind)\/(.+)$/.exec(hash);
  return m ? { by: m[1], id: decodeURIComponent(m[2]) } : { by: "", id: "" };
}

function unitName(id) {
  if (id === "(store)") return t("store");
  const u = view.site && view.site.units.find((x) => x.id === id);
  return u && u.name ? `${u.name} (${id})` : id;
}

const groupName = (by, id) => (by === "kind" ? kindLabel(id) : unitName(id));

/** The hospital: the unit rows of each day summed. */
function sumByDay(rows) {
  const days = new Map();
  for (const r of rows) {
    const d = days.get(r.day) || { day: r.day, no_data: true, observed_hours: 0, in_use_hours: 0, standby_hours: 0 };
    for (const st of states) d[st + "_hours"] = (d[st + "_hours"] || 0) + hoursOf(r, st);
    d.observed_hours += r.observed_hours || 0;
    d.no_data = d.no_data && !!r.no_data;
    days.set(r.day, d);
  }
  return [...days.values()].map((d) => {
    const up = d.in_use_hours + d.standby_hours;
    return { ...d, availability_pct: d.observed_hours > 0 ? (100 * up) / d.observed_hours : null, utilisation_pct: up > 0 ? (100 * d.in_use_hours) / up : null };
  });
}

function groupTable(id, by, rep) {
  const cols = [by === "kind" ? "col.kind" : "col.unit", "usage.devices", ...states.map((st) => "state." + st), "usage.availability", "usage.utilisation"];
  return h("table", { id, class: "grid usage-groups" },
    h("thead", {}, h("tr", {}, cols.map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", {}, rep.totals.map((r) => h("tr", { dataset: { group: r.id } },
      h("th", { scope: "row" }, h("a", { href: `#/usage/${by}/${enc(r.id)}` }, groupName(by, r.id))),
      h("td", {}, String(r.devices)), states.map((st) => h("td", {}, fmtH(hoursOf(r, st)))),
      h("td", {}, fmtPct(r.availability_pct)), h("td", {}, fmtPct(r.utilisation_pct))))));
}

function drawView(root) {
  const page = pageOf(view.hash);
  const head = page.by
    ? [h("p", {}, h("a", { href: "#/usage" }, t("usage.back"))), h("h2", { id: "usage-title" }, groupName(page.by, page.id))]
    : [h("h2", { id: "usage-title" }, t("usage.title"))];
  const controls = [rangeButtons(view.days, (n) => { view.days = n; loadView(root); }), h("p", { class: "muted" }, t("usage.formula"))];
  const key = (by, id) => `${by}/${id}/${view.days}`;
  let body;
  if (view.error) {
    body = [h("p", { class: "error", role: "alert" }, view.error)];
  } else if (page.by) {
    const rep = view.reports[key(page.by, page.id)];
    body = !rep ? [h("p", { class: "muted" }, t("usage.loading"))]
      : groupBlock("usage", rep.rows, rep.totals[0] || rep.total, usageURL(page.by, page.id, view.days, true));
  } else {
    const units = view.reports[key("unit", "")], kinds = view.reports[key("kind", "")];
    body = !units || !kinds ? [h("p", { class: "muted" }, t("usage.loading"))] : [
      h("h3", {}, t("usage.hospital")), ...groupBlock("usage", sumByDay(units.rows), units.total, usageURL("unit", "", view.days, true)).slice(0, 4),
      h("h3", {}, t("usage.by_unit")), groupTable("usage-units", "unit", units),
      h("p", {}, h("a", { id: "usage-csv-unit", class: "usage-csv", href: usageURL("unit", "", view.days, true), download: "" }, t("usage.csv"))),
      h("h3", {}, t("usage.by_kind")), groupTable("usage-kinds", "kind", kinds),
      h("p", {}, h("a", { id: "usage-csv-kind", class: "usage-csv", href: usageURL("kind", "", view.days, true), download: "" }, t("usage.csv")))];
  }
  redraw(root, [...head, ...controls, ...body]);
}

async function loadView(root) {
  const page = pageOf(view.hash);
  const days = view.days;
  const wanted = page.by ? [[page.by, page.id]] : [["unit", ""], ["kind", ""]];
  const seq = ++view.seq;
  drawView(root);
  try {
    const reps = await Promise.all(wanted.map(([by, id]) => getJSON(usageURL(by, id, days, false))));
    if (seq !== view.seq) return;
    wanted.forEach(([by, id], i) => { view.reports[`${by}/${id}/${days}`] = reps[i]; });
    view.error = "";
  } catch (e) {
    if (seq !== view.seq) return;
    view.error = t("err.load", { what: t("usage.title"), error: e.reason || e.message });
  }
  drawView(root);
}

/**
 * Renders the Usage view for hash (#/usage, #/usage/unit/ID or
 * #/usage/kind/ID) into root; site names the units. Called on every
 * render of the dashboard: it draws only when the page or the language
 * changed, and fetches when a page is opened.
 */
export function renderUsage(root, hash, site) {
  view.site = site;
  if (hash !== view.hash) {
    view.hash = hash;
    view.lang = getLang();
    view.reports = {};
    view.error = "";
    loadView(root);
  } else if (view.lang !== getLang()) {
    view.lang = getLang();
    drawView(root);
  }
}
