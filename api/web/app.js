// The dashboard's entry point: holds the model (site, beds, capacity,
// devices), keeps it live from the event stream, routes between the ward
// view, the device table and a device page, and performs the actions.

import { h, debounce, fmtTime } from "./dom.js";
import { t, getLang, setLang } from "./i18n.js";
import { getJSON, mutate, setTokenPrompt, setSessionListener, loadSession, session, signOut, askAndSignIn, ApiError } from "./api.js";
import { connect } from "./live.js";
import { renderTotals, renderWard } from "./ward.js";
import { renderDevices, renderDevicePage, actionMessage } from "./devices.js";
import { renderAlerts, alertBadge } from "./alerts.js";
import { renderMaintenance } from "./maint.js";
import { renderAudit, auditQuery } from "./audit.js";
import { renderUsage } from "./usage.js";

const model = {
  site: null,
  beds: null,
  capacity: null,
  devices: new Map(), // id -> device row
  deviceList: [],
  asOf: null,
  conn: "connecting",
  loadError: "",
  alerts: null, // GET api/v1/alerts
  alertsError: "",
  maint: null, // GET api/v1/maintenance
  maintError: "",
  audit: null, // GET api/v1/audit
  auditError: "",
  overdue: new Set(), // devices whose work order is past its expected return
};

const ui = {
  view: "ward",
  deviceId: "",
  detail: null,
  detailError: "",
  message: null,
  open: new Set(), // beds whose reason is expanded
  rendered: null, // the detail, language and message the device page shows
  sort: "id", dir: 1, kind: "", unit: "", state: "", q: "",
  auditFilter: {}, // the Audit view's filter
};

const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;

function setDevices(list) {
  const prev = model.devices;
  model.devices = new Map();
  for (const d of list) {
    // Snapshot rows lack the config facts (transport, profile): keep them.
    const old = prev.get(d.id);
    model.devices.set(d.id, old && !d.transport ? { ...old, ...d, transport: old.transport, profile: old.profile } : d);
  }
  model.deviceList = [...model.devices.values()];
}

function capacityOfSnapshot(s) {
  return {
    as_of: s.as_of, hospital_id: s.hospital, verified: s.capacity.hospital.verified,
    hospital: s.capacity.hospital, classes: s.capacity.classes, units: s.capacity.units,
    readiness: s.readiness, policy: s.policy,
  };
}

function onSite(site) {
  model.site = site;
}

function onSnapshot(s) {
  model.asOf = s.as_of;
  model.beds = s.beds;
  model.capacity = capacityOfSnapshot(s);
  setDevices(s.devices);
  render();
  refreshAllSoon();
  if (ui.view === "device") loadDetailSoon();
}

// A transition is applied at once to what it names, then the authoritative
// documents are re-fetched (debounced) so counts and evidence follow.
function onTransition(tr) {
  transitionsSeen++;
  if (tr.type === "device" || tr.type === "move") {
    const d = model.devices.get(tr.id);
    if (d) {
      if (tr.type === "device") Object.assign(d, { state: tr.to, since: tr.time, cause: tr.cause });
      else Object.assign(d, { at: tr.to, unit: tr.unit });
    }
  } else if (tr.type === "bed" && model.beds) {
    const b = model.beds.find((x) => x.id === tr.id);
    if (b) Object.assign(b, { state: tr.to, since: tr.time, equipped: tr.to !== "degraded", reason: tr.reason || [] });
  }
  if (!model.asOf || Date.parse(model.asOf) < Date.parse(tr.time)) model.asOf = tr.time;
  render();
  if (ui.view === "devices") refreshAllSoon(); else refreshSoon();
  if (ui.view === "device" && tr.id === ui.deviceId) loadDetailSoon();
  loadAlertsSoon();
}

// refresh re-fetches the counts and beds, and with all also the device
// list. Live events refresh the counts only: the device list of a large
// site is big, and transitions already carry each device's new state.
//
// Responses can arrive out of order: one that started before a newer one
// already applied is dropped, so older data never overwrites newer.
let refreshStarted = 0;
let refreshApplied = 0;
// transitionsSeen counts live transitions: a device list fetched while one
// arrived may predate it, so it is fetched again rather than trusted.
let transitionsSeen = 0;
async function refresh(all) {
  const seq = ++refreshStarted;
  const seen = transitionsSeen;
  try {
    const [cap, beds, devs] = await Promise.all([
      getJSON("api/v1/capacity"), getJSON("api/v1/beds"), all ? getJSON("api/v1/devices") : null]);
    if (seq < refreshApplied) return;
    refreshApplied = seq;
    model.capacity = cap;
    model.beds = beds.beds;
    model.asOf = cap.as_of;
    if (devs) setDevices(devs.devices);
    if (devs && seen !== transitionsSeen) refreshAllSoon();
    model.loadError = "";
  } catch (e) {
    model.loadError = t("err.load", { what: "", error: e.message });
  }
  render();
}
const refreshSoon = debounce(refresh, 150);
const refreshAllSoon = debounce(() => refresh(true), 150);

let detailStarted = 0;
let detailApplied = 0;
async function loadDetail() {
  const id = ui.deviceId;
  const seq = ++detailStarted;
  try {
    const d = await getJSON(`api/v1/devices/${enc(id)}`);
    if (id !== ui.deviceId || seq < detailApplied) return;
    detailApplied = seq;
    // Same content: keep the page as it is (no re-render under the pointer).
    if (ui.detail && JSON.stringify(d) === JSON.stringify(ui.detail) && !ui.detailError) return;
    ui.detail = d;
    ui.detailError = "";
  } catch (e) {
    if (id !== ui.deviceId) return;
    ui.detail = null;
    ui.detailError = e instanceof ApiError && e.status === 404 ? t("device.unknown", { id }) : t("err.load", { what: id, error: e.message });
  }
  render();
}
const loadDetailSoon = debounce(loadDetail, 150);

let alertsStarted = 0;
let alertsApplied = 0;
async function loadAlerts() {
  const seq = ++alertsStarted;
  try {
    const v = await getJSON("api/v1/alerts?history=200");
    if (seq < alertsApplied) return;
    alertsApplied = seq;
    if (model.alerts && JSON.stringify(v) === JSON.stringify(model.alerts) && !model.alertsError) return;
    model.alerts = v;
    model.alertsError = "";
  } catch (e) {
    model.alertsError = t("err.load", { what: t("nav.alerts"), error: e.message });
  }
  render();
}
const loadAlertsSoon = debounce(loadAlerts, 500);

async function loadMaint() {
  try {
    const v = await getJSON("api/v1/maintenance");
    if (model.maint && JSON.stringify(v) === JSON.stringify(model.maint) && !model.maintError) return;
    model.maint = v;
    model.maintError = "";
    model.overdue = new Set(v.open.filter((o) => o.overdue).map((o) => o.device));
  } catch (e) {
    model.maintError = t("err.load", { what: t("nav.maintenance"), error: e.message });
  }
  render();
}

async function loadAudit() {
  try {
    model.audit = await getJSON("api/v1/audit?" + auditQuery(ui.auditFilter));
    model.auditError = "";
  } catch (e) {
    model.audit = null;
    model.auditError = t("err.load", { what: t("audit.title"), error: e.reason || e.message });
  }
  render();
}

function onState(state) {
  model.conn = state;
  renderStatus();
}

// ---- rendering

function renderStatus() {
  const c = $("#conn");
  const icon = { open: "●", connecting: "◌", closed: "✕" }[model.conn];
  // A status region: announce changes only.
  if (c.dataset.state !== model.conn || c.dataset.lang !== getLang()) {
    c.className = `conn conn-${model.conn}`;
    c.dataset.state = model.conn;
    c.dataset.lang = getLang();
    c.replaceChildren(h("span", { "aria-hidden": "true" }, icon, " "), t("conn." + model.conn));
  }
  const banner = $("#banner");
  const lines = [];
  let reason = "";
  if (model.conn !== "open") {
    reason = "connection";
    lines.push(t("banner.conn", { time: fmtTime(model.asOf) || "—" }));
  }
  const cap = model.capacity;
  if (cap && !cap.verified) {
    reason = reason ? reason + " unverified" : "unverified";
    const ev = cap.hospital.evidence || { stale: [], missing: [] };
    const all = [...ev.stale, ...ev.missing];
    lines.push(t("banner.unverified", { n: all.length, list: all.slice(0, 8).join(", ") + (all.length > 8 ? ", …" : "") }));
  }
  if (model.loadError) lines.push(model.loadError);
  banner.hidden = lines.length === 0;
  banner.dataset.reason = reason;
  // Replace the text only when it changes: the banner is an alert, and
  // screen readers announce every change.
  const text = lines.join("\n");
  if (banner.dataset.text !== text) {
    banner.dataset.text = text;
    banner.replaceChildren(...lines.map((l) => h("p", {}, h("span", { "aria-hidden": "true" }, "⚠ "), l)));
  }
}

// Re-rendering replaces nodes; keep keyboard focus where it was.
function focusKey() {
  const a = document.activeElement;
  if (!a || a === document.body) return "";
  if (a.id) return `#${CSS.escape(a.id)}`;
  if (a.dataset && a.dataset.dev) return `a[data-dev="${CSS.escape(a.dataset.dev)}"]`;
  const d = a.closest && a.closest("details[data-key]");
  if (d) return `details[data-key="${CSS.escape(d.dataset.key)}"] summary`;
  return "";
}

function render() {
  const key = focusKey();
  const moveTo = $("#move-to")?.value;
  if (model.site) {
    $("#hospital-name").textContent = model.site.hospital.name || model.site.hospital.id;
  }
  $("#as-of").textContent = model.asOf ? t("as_of", { time: fmtTime(model.asOf) }) : "";
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    const cur = a.dataset.view === ui.view || (ui.view === "device" && a.dataset.view === "devices");
    if (cur) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  $("#view-ward").hidden = ui.view !== "ward";
  $("#totals").hidden = ui.view !== "ward";
  $("#view-devices").hidden = ui.view !== "devices";
  $("#view-device").hidden = ui.view !== "device";
  $("#view-alerts").hidden = ui.view !== "alerts";
  $("#view-maintenance").hidden = ui.view !== "maintenance";
  $("#view-audit").hidden = ui.view !== "audit";
  $("#view-usage").hidden = ui.view !== "usage";
  if (ui.view === "usage") renderUsage($("#view-usage"), location.hash, model.site);
  if (ui.view === "audit") {
    const key = [model.audit, model.auditError, getLang()];
    if (!(ui.renderedAudit && key.every((v, i) => v === ui.renderedAudit[i]))) {
      ui.renderedAudit = key;
      renderAudit($("#view-audit"), model.audit, model.auditError, ui.auditFilter, (f) => {
        ui.auditFilter = f;
        loadAudit();
      });
    }
  }
  if (ui.view === "maintenance") {
    const key = [model.maint, model.maintError, getLang()];
    if (!(ui.renderedMaint && key.every((v, i) => v === ui.renderedMaint[i]))) {
      ui.renderedMaint = key;
      renderMaintenance($("#view-maintenance"), model.maint, model.maintError);
    }
  }
  alertBadge($("#alert-badge"), model.alerts);
  if (ui.view === "alerts") {
    const root = $("#view-alerts");
    const key = [model.alerts, model.alertsError, getLang(), ui.message];
    if (!(ui.renderedAlerts && key.every((v, i) => v === ui.renderedAlerts[i]))) {
      ui.renderedAlerts = key;
      renderAlerts(root, model.alerts, model.alertsError, doAck);
      if (ui.message) actionMessage(root, ui.message.text, ui.message.error);
    }
  }
  if (model.site && model.beds) {
    if (ui.view === "ward") {
      renderTotals($("#totals"), model);
      renderWard($("#view-ward"), model, ui.open);
    } else if (ui.view === "devices") {
      renderDevices($("#view-devices"), model, ui, render);
    } else if (ui.view === "device") {
      const root = $("#view-device");
      // Re-render only what changed: an open select or a half-read page
      // must not be reset by unrelated live updates.
      const key = [ui.detail, getLang(), ui.message, model.site];
      if (ui.detail && !(ui.rendered && key.every((v, i) => v === ui.rendered[i]))) {
        ui.rendered = key;
        renderDevicePage(root, ui.detail, model, { maintenance: doMaintenance, move: doMove });
        if (moveTo && $("#move-to")) $("#move-to").value = moveTo;
        if (ui.message) actionMessage(root, ui.message.text, ui.message.error);
      } else if (ui.detailError) {
        root.replaceChildren(h("p", { class: "error", role: "alert" }, ui.detailError),
          h("p", {}, h("a", { href: "#/devices" }, t("device.back"))));
      }
    }
  }
  renderStatus();
  if (key) {
    const el = document.querySelector(key);
    if (el && el !== document.activeElement) el.focus();
  }
}

// ---- dialogs and actions

function dialog(el, onOpen) {
  return new Promise((resolve) => {
    el.addEventListener("close", () => resolve(el.returnValue === "ok"), { once: true });
    el.returnValue = "";
    onOpen();
    el.showModal();
  });
}

async function askToken(reason) {
  const input = $("#token-input");
  input.value = "";
  const why = $("#token-reason");
  why.hidden = !reason;
  why.textContent = reason || "";
  const ok = await dialog($("#token-dialog"), () => {});
  return ok && input.value.trim() ? input.value.trim() : null;
}

function confirmAction(text) {
  return dialog($("#confirm-dialog"), () => { $("#confirm-text").textContent = text; });
}

async function act(confirmText, method, path, body, doneText) {
  if (confirmText && !(await confirmAction(confirmText))) return;
  try {
    await mutate(method, path, body);
    ui.message = { text: doneText, error: false };
  } catch (e) {
    const err = e instanceof ApiError ? e : new ApiError(0, "error", String(e));
    ui.message = { text: t("err.action", { error: err.error, reason: err.reason }), error: true };
  }
  renderTokenButton();
  await loadDetail();
  refreshAllSoon();
}

// Starting maintenance opens a work order: the dialog asks why, the
// ticket and when the device is expected back (all optional). Ending it
// asks to confirm.
async function doMaintenance(on) {
  const id = ui.deviceId;
  if (!on) {
    await act(t("confirm.maint_off", { id }), "PUT", `api/v1/devices/${enc(id)}/maintenance`, { on },
      t("done.maint_off", { id }));
    loadMaint();
    return;
  }
  for (const f of ["#maint-reason", "#maint-ticket", "#maint-return"]) $(f).value = "";
  const ok = await dialog($("#maint-dialog"), () => { $("#maint-dev").textContent = t("confirm.maint_on", { id }); });
  if (!ok) return;
  const body = { on: true };
  if ($("#maint-reason").value.trim()) body.reason = $("#maint-reason").value.trim();
  if ($("#maint-ticket").value.trim()) body.ticket = $("#maint-ticket").value.trim();
  if ($("#maint-return").value) body.expected_return = $("#maint-return").value;
  await act(null, "PUT", `api/v1/devices/${enc(id)}/maintenance`, body, t("done.maint_on", { id }));
  loadMaint();
}

function doMove(to) {
  const id = ui.deviceId;
  const from = ui.detail ? ui.detail.at : "";
  return act(t("confirm.move", { id, from, to }), "PUT",
    `api/v1/devices/${enc(id)}/assignment`, { at: to }, t("done.move", { id, to }));
}

async function doAck(id) {
  if (!(await confirmAction(t("alerts.confirm_ack", { id })))) return;
  try {
    await mutate("POST", "api/v1/alerts/ack", { id });
    ui.message = { text: t("alerts.done_ack", { id }), error: false };
  } catch (e) {
    const err = e instanceof ApiError ? e : new ApiError(0, "error", String(e));
    ui.message = { text: t("err.action", { error: err.error, reason: err.reason }), error: true };
  }
  renderTokenButton();
  await loadAlerts();
  render();
}

function renderTokenButton() {
  const s = session();
  const btn = $("#token-btn");
  btn.hidden = !s.tokens_configured;
  btn.textContent = s.signed_in ? t("token.forget", { name: s.name, role: t("role." + s.role) }) : t("token.set");
  btn.dataset.signedIn = String(!!s.signed_in);
  // The language button names the other language, in that language.
  $("#lang").lang = getLang() === "zh" ? "en" : "zh";
}

// ---- routing and start

function route() {
  const hash = location.hash || "#/ward";
  const prev = ui.view + ui.deviceId;
  if (hash.startsWith("#/device/")) {
    ui.view = "device";
    const id = decodeURIComponent(hash.slice("#/device/".length));
    if (id !== ui.deviceId) {
      ui.deviceId = id;
      ui.detail = null;
      ui.detailError = "";
      ui.message = null;
      ui.rendered = null;
      $("#view-device").replaceChildren();
    }
    loadDetail();
  } else {
    ui.view = { "#/devices": "devices", "#/alerts": "alerts", "#/maintenance": "maintenance", "#/audit": "audit" }[hash] ||
      (hash.startsWith("#/usage") ? "usage" : "ward");
    ui.deviceId = "";
    if (prev !== ui.view) ui.message = null;
    if (ui.view === "alerts") loadAlerts();
    if (ui.view === "maintenance") loadMaint();
    if (ui.view === "audit") loadAudit();
  }
  render();
  if (prev !== ui.view + ui.deviceId && document.readyState === "complete") $("#main").focus();
}

// streamClosed runs when the browser gave the event stream up: when the
// reason is a session that ended (reading needs a token), sign in again.
async function streamClosed() {
  try {
    const s = await loadSession();
    if (s.read_requires_token && !s.signed_in) return askAndSignIn(t("token.read_needed"));
  } catch (_) { /* the gateway is unreachable: retry later */ }
  return false;
}

async function start() {
  setLang(getLang());
  setTokenPrompt(askToken);
  setSessionListener(renderTokenButton);
  renderTokenButton();
  $("#lang").addEventListener("click", () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    renderTokenButton();
    render();
  });
  $("#token-btn").addEventListener("click", async () => {
    try {
      if (session().signed_in) await signOut();
      else await askAndSignIn("", true);
    } catch (e) {
      ui.message = { text: t("err.action", { error: e.error || "error", reason: e.reason || e.message }), error: true };
    }
    renderTokenButton();
    render();
  });
  document.addEventListener("toggle", (e) => {
    const d = e.target;
    if (d instanceof HTMLDetailsElement && d.dataset.key) {
      if (d.open) ui.open.add(d.dataset.key); else ui.open.delete(d.dataset.key);
    }
  }, true);
  window.addEventListener("hashchange", route);
  // The stream's first events (site, snapshot) are all the page needs to
  // render; no other request is waited for.
  // Where reading needs a token, sign in before anything is fetched.
  try {
    const s = await loadSession();
    if (s.read_requires_token && !s.signed_in) await askAndSignIn(t("token.read_needed"));
  } catch (_) { /* an old gateway or a network error: the stream shows it */ }
  route();
  connect({ onSite, onSnapshot, onTransition, onState, onClosed: streamClosed });
  // Ages ("since", "last seen") move on, and a lost event heals itself.
  setInterval(() => { refresh(true); if (ui.view === "device") loadDetail(); }, 30000);
  // Alerts change with the clock (for: durations), not only with events.
  loadAlerts();
  setInterval(loadAlerts, 5000);
  // Work orders turn overdue with the clock.
  loadMaint();
  setInterval(loadMaint, 30000);
  // A reload may change units and beds without a transition.
  setInterval(async () => {
    try {
      const site = await getJSON("api/v1/site");
      if (JSON.stringify(site) !== JSON.stringify(model.site)) {
        model.site = site;
        render();
      }
    } catch (_) { /* the stream and refresh show the connection state */ }
  }, 60000);
}

start();
