// The desk UI: no framework, no build step. Every piece of server data goes through
// textContent (never innerHTML), so an alert summary cannot inject markup.
import { TEXT } from "/ui/i18n.js";

const S = {
  lang: localStorage.getItem("xl.lang") || "zh",
  me: null, csrf: sessionStorage.getItem("xl.csrf") || "",
  incidents: new Map(), selected: null, detail: null, map: null,
  filters: { type: "", state: "open", camera: "" },
  view: "queue", es: null, live: false, flash: new Set(),
  desks: [], stats: [], cameras: [],
};
const t = (k) => TEXT[S.lang][k] ?? k;
const tt = (group, k) => (TEXT[S.lang][group] || {})[k] ?? k;

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const svg = (tag, attrs = {}) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
};

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = S.csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (r.status === 401 && path !== "/api/v1/login") { showLogin(); throw new Error("401"); }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error((data && data.error) || `${r.status}`);
  return data;
}

// ---- time ------------------------------------------------------------------------------
function age(iso) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}${t("seconds")}`;
  if (s < 3600) return `${Math.floor(s / 60)}${t("minutes")}${s % 60}${t("seconds")}`;
  return `${Math.floor(s / 3600)}${t("hours")}${Math.floor((s % 3600) / 60)}${t("minutes")}`;
}
const clock = (iso) => new Date(iso).toLocaleString(S.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });

// ---- audible cue -------------------------------------------------------------------------
let audio;
function beep(times) {
  try {
    audio = audio || new AudioContext();
    for (let i = 0; i < times; i++) {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; o.connect(g); g.connect(audio.destination);
      const at = audio.currentTime + i * 0.35;
      g.gain.setValueAtTime(0.2, at); g.gain.setValueAtTime(0, at + 0.2);
      o.start(at); o.stop(at + 0.25);
    }
  } catch { /* no audio device: the visual cue remains */ }
}

// ---- login -------------------------------------------------------------------------------
function showLogin(message = "") {
  closeStream();
  S.me = null;
  const err = h("div", { class: "error", id: "login-error" }, message);
  const user = h("input", { id: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    try {
      const r = await api("POST", "/api/v1/login", { username: user.value.trim(), password: pass.value });
      S.csrf = r.csrf; sessionStorage.setItem("xl.csrf", r.csrf);
      await start();
    } catch { err.textContent = t("badLogin"); }
  } },
    h("h1", {}, "雪亮 xueliang"), h("p", {}, t("loginHint")),
    h("label", { for: "username" }, t("username")), user,
    h("label", { for: "password" }, t("password")), pass,
    err,
    h("div", { class: "row" },
      h("button", { type: "button", onclick: () => { toggleLang(); showLogin(); } }, t("lang")),
      h("button", { class: "primary", type: "submit", id: "login-submit" }, t("login"))));
  document.getElementById("app").replaceChildren(form);
  user.focus();
}

function toggleLang() {
  S.lang = S.lang === "zh" ? "en" : "zh";
  localStorage.setItem("xl.lang", S.lang);
  document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
}

// ---- live push ---------------------------------------------------------------------------
function closeStream() { if (S.es) { S.es.close(); S.es = null; } }
function openStream() {
  closeStream();
  const es = new EventSource("/api/v1/events");
  S.es = es;
  es.addEventListener("hello", () => { S.live = true; loadQueue(); renderBanner(); });
  es.addEventListener("resync", () => loadQueue());
  es.addEventListener("duty_level", (e) => { S.me.duty_level = JSON.parse(e.data).level; loadQueue(); renderBanner(); });
  es.addEventListener("incident", (e) => {
    const c = JSON.parse(e.data);
    const known = S.incidents.get(c.incident.id);
    const merged = Object.assign({}, known || {}, c.incident);
    S.incidents.set(c.incident.id, merged);
    if (c.kind === "created" || c.kind === "escalated") {
      S.flash.add(c.incident.id);
      const p = c.incident.priority;
      if (p === "P1" || p === "P2" || c.kind === "escalated") beep(p === "P1" ? 3 : 1);
      setTimeout(() => { S.flash.delete(c.incident.id); }, 4000);
    }
    // Camera name and place come with the queue listing; fetch them for new incidents.
    if (!known) loadQueue(); else renderQueue();
    if (S.selected === c.incident.id) loadDetail(c.incident.id);
    if (S.view === "overview") loadOverview();
  });
  es.onerror = () => { S.live = false; renderBanner(); };
}

// ---- layout ------------------------------------------------------------------------------
const isCentre = () => S.me && S.me.desk_kind === "centre";

function renderShell() {
  const tabs = isCentre()
    ? h("nav", { class: "tabs" },
        h("button", { id: "tab-overview", class: S.view === "overview" ? "active" : "", onclick: () => { S.view = "overview"; renderShell(); loadOverview(); } }, t("overview")),
        h("button", { id: "tab-queue", class: S.view === "queue" ? "active" : "", onclick: () => { S.view = "queue"; renderShell(); loadQueue(); } }, t("allQueues")))
    : h("nav", { class: "tabs" }, h("button", { class: "active" }, t("queue")));
  const main = S.view === "overview"
    ? h("main", { class: "single" }, h("section", { class: "panel", id: "overview" }))
    : h("main", {}, h("section", { class: "panel", id: "queue" }), h("section", { class: "panel detail", id: "detail" }));
  document.getElementById("app").replaceChildren(h("header", { class: "banner", id: "banner" }), tabs, main);
  renderBanner();
  if (S.view === "queue") { renderQueue(); renderDetail(); }
}

function renderBanner() {
  const b = document.getElementById("banner");
  if (!b || !S.me) return;
  const level = S.me.duty_level;
  b.replaceChildren(
    h("span", { class: "title" }, isCentre() ? t("centreApp") : t("app")),
    h("span", { class: "desk", id: "desk-name" }, `${S.me.desk_name} · ${S.me.user.display_name}`),
    h("span", { class: `duty ${level}`, id: "duty-banner", title: t("duty") }, `${t("duty")}：${tt("dutyLevel", level)}`),
    h("span", { class: "spacer" }),
    h("span", { class: `live ${S.live ? "on" : "off"}`, id: "live" }, S.live ? t("live") : t("offline")),
    h("button", { id: "lang", onclick: () => { toggleLang(); renderShell(); if (S.view === "overview") loadOverview(); } }, t("lang")),
    h("button", { id: "logout", onclick: async () => { try { await api("POST", "/api/v1/logout", {}); } catch {} showLogin(); } }, t("logout")));
}

// ---- queue -------------------------------------------------------------------------------
async function loadQueue() {
  const q = new URLSearchParams();
  if (S.filters.state === "open") q.set("open", "true"); else if (S.filters.state) q.set("state", S.filters.state);
  if (S.filters.type) q.set("event_type", S.filters.type);
  if (S.filters.camera) q.set("camera_id", S.filters.camera);
  q.set("limit", "500");
  try {
    const rows = await api("GET", `/api/v1/incidents?${q}`);
    S.incidents = new Map(rows.map((r) => [r.id, r]));
    renderQueue();
  } catch (e) { console.warn("queue", e); }
}

function matchesFilters(i) {
  if (S.filters.state === "open" && i.state === "closed") return false;
  if (S.filters.state && S.filters.state !== "open" && i.state !== S.filters.state) return false;
  if (S.filters.type && i.event_type !== S.filters.type) return false;
  if (S.filters.camera && i.camera_id !== S.filters.camera) return false;
  return true;
}

function renderQueue() {
  const el = document.getElementById("queue");
  if (!el) return;
  const rows = [...S.incidents.values()].filter(matchesFilters)
    .sort((a, b) => a.priority.localeCompare(b.priority) || Date.parse(a.first_seen) - Date.parse(b.first_seen));
  const sel = (id, value, options, on) => h("select", { id, onchange: (e) => on(e.target.value) },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  const cams = [...new Map([...S.incidents.values()].map((i) => [i.camera_id, i.camera_name || i.camera_id])).entries()];
  const filters = h("div", { class: "filters" },
    sel("filter-type", S.filters.type, [["", t("allTypes")], ...Object.keys(TEXT.zh.event).map((k) => [k, tt("event", k)])], (v) => { S.filters.type = v; loadQueue(); }),
    sel("filter-state", S.filters.state, [["open", t("allStates")], ["", t("anyState")], ...Object.keys(TEXT.zh.st).map((k) => [k, tt("st", k)])], (v) => { S.filters.state = v; loadQueue(); }),
    sel("filter-camera", S.filters.camera, [["", t("allCameras")], ...cams], (v) => { S.filters.camera = v; loadQueue(); }));
  const head = h("tr", {}, [t("prio"), t("type"), t("camera"), t("place"), t("age"), t("count"), t("state"), t("escalated")].map((x) => h("th", {}, x)));
  const body = rows.map((i) => h("tr", {
      class: `incident ${S.selected === i.id ? "selected" : ""} ${S.flash.has(i.id) ? "flash" : ""}`,
      "data-id": i.id, "data-testid": "incident-row", onclick: () => select(i.id) },
    h("td", {}, h("span", { class: `prio ${i.priority}` }, i.priority)),
    h("td", {}, tt("event", i.event_type), i.silenced ? h("span", { class: "muted", title: t("silenced") }, " 🔕") : null),
    h("td", {}, i.camera_name || i.camera_id),
    h("td", { class: "muted" }, i.place || "—"),
    h("td", { class: "age", "data-since": i.first_seen }, age(i.first_seen)),
    h("td", {}, i.alert_count),
    h("td", {}, h("span", { class: `state ${i.state}` }, tt("st", i.state))),
    h("td", {}, i.escalation ? h("span", { class: "esc" }, `⬆ ${age(i.escalation.at)}`) : "")));
  el.replaceChildren(h("h2", {}, `${isCentre() ? t("allQueues") : t("queue")} (${rows.length})`), filters,
    rows.length ? h("table", { id: "queue-table" }, h("thead", {}, head), h("tbody", {}, body)) : h("div", { class: "empty" }, t("none")));
}

setInterval(() => {
  for (const td of document.querySelectorAll("td.age")) td.textContent = age(td.dataset.since);
}, 1000);

// ---- incident ----------------------------------------------------------------------------
async function select(id) { S.selected = id; renderQueue(); await loadDetail(id); }

async function loadDetail(id) {
  try {
    S.detail = await api("GET", `/api/v1/incidents/${id}`);
    if (!S.map) S.map = await api("GET", "/api/v1/map");
  } catch (e) { S.detail = { error: e.message }; }
  renderDetail();
}

function renderDetail() {
  const el = document.getElementById("detail");
  if (!el) return;
  const d = S.detail;
  if (!d || S.selected === null) { el.replaceChildren(h("div", { class: "empty" }, t("pick"))); return; }
  if (d.error) { el.replaceChildren(h("div", { class: "error" }, d.error)); return; }
  const error = h("div", { class: "error", id: "action-error" });
  const act = async (what, body) => {
    error.textContent = "";
    try { await api("POST", `/api/v1/incidents/${d.id}/${what}`, body); await loadDetail(d.id); loadQueue(); }
    catch (e) { error.textContent = e.message; }
  };
  const unit = h("input", { id: "dispatch-unit", placeholder: t("unit") });
  const note = h("input", { id: "action-note", placeholder: t("note") });
  const disp = h("select", { id: "close-disposition" }, Object.keys(TEXT.zh.disp).map((k) => h("option", { value: k }, tt("disp", k))));
  const open = d.state !== "closed";
  const actions = h("div", { class: "actions" },
    h("button", { id: "btn-ack", class: "primary", disabled: d.state !== "new", onclick: () => act("ack", { note: note.value }) }, t("ack")),
    unit,
    h("button", { id: "btn-dispatch", disabled: d.state !== "acknowledged", onclick: () => unit.value.trim() ? act("dispatch", { unit: unit.value.trim(), note: note.value }) : (error.textContent = t("needUnit")) }, t("dispatch")),
    disp,
    h("button", { id: "btn-close", class: "danger", disabled: !open, onclick: () => act("close", { disposition: disp.value, note: note.value }) }, t("close")),
    note);
  const cam = d.camera;
  const kv = h("dl", { class: "kv" },
    h("dt", {}, t("camera")), h("dd", {}, d.camera_name || d.camera_id),
    h("dt", {}, t("place")), h("dd", {}, d.place || "—"),
    h("dt", {}, t("location")), h("dd", {}, cam ? `${cam.location.lat.toFixed(5)}, ${cam.location.lon.toFixed(5)}` : "—"),
    h("dt", {}, t("firstSeen")), h("dd", {}, clock(d.first_seen)),
    h("dt", {}, t("lastSeen")), h("dd", {}, `${clock(d.last_seen)} · ${t("count")} ${d.alert_count}`),
    h("dt", {}, t("routedTo")), h("dd", {}, d.desks.map((x) => `${x.desk_name || x.desk_id}（${tt("role", x.role)}）`).join("，")),
    d.escalation ? [h("dt", {}, t("escalatedTo")), h("dd", { class: "esc" }, `${d.escalation.to_desk} · ${t("waited")} ${d.escalation.waited_s}${t("seconds")}`)] : null,
    d.dispatch ? [h("dt", {}, t("unit")), h("dd", {}, `${d.dispatch.unit} ${d.dispatch.note || ""}`)] : null,
    d.disposition ? [h("dt", {}, t("disposition")), h("dd", {}, tt("disp", d.disposition))] : null,
    d.silenced ? [h("dt", {}, ""), h("dd", { class: "muted" }, t("silenced"))] : null);
  const snaps = h("div", { class: "snaps", id: "snapshots" }, d.alerts.filter((a) => a.snapshot_url).map((a) =>
    h("figure", {}, h("img", { src: a.snapshot_url, alt: a.summary || tt("event", a.event_type), loading: "lazy" }),
      h("figcaption", {}, `${clock(a.captured_at)} ${a.summary || ""}`))));
  const history = h("ol", { class: "history", id: "history" }, d.history.map((x) =>
    h("li", { "data-action": x.action }, `${clock(x.at)} `, h("span", { class: "who" }, x.actor), x.from_addr ? h("span", { class: "muted" }, ` @${x.from_addr}`) : null,
      ` ${tt("action", x.action)}`, x.note ? ` — ${x.note}` : "")));
  el.replaceChildren(
    h("h2", {}, h("span", { class: `prio ${d.priority}` }, d.priority), tt("event", d.event_type), h("span", { class: `state ${d.state}`, id: "detail-state", "data-state": d.state }, tt("st", d.state))),
    kv, actions, error,
    h("h3", {}, t("snapshots")), snaps,
    h("h3", {}, t("map")), drawMap(d.camera_id),
    h("h3", {}, t("history")), history);
}

function drawMap(cameraId) {
  const m = S.map;
  const el = svg("svg", { class: "map", id: "map", viewBox: "0 0 1000 500", preserveAspectRatio: "xMidYMid meet" });
  if (!m) return el;
  const pts = [];
  for (const a of m.areas) for (const p of a.polygons) for (const r of p) pts.push(...r);
  for (const c of m.cameras) pts.push([c.lon, c.lat]);
  if (!pts.length) return el;
  const lons = pts.map((p) => p[0]), lats = pts.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const sx = 960 / Math.max((x1 - x0) * k, 1e-9), sy = 460 / Math.max(y1 - y0, 1e-9), s = Math.min(sx, sy);
  const X = (lon) => 20 + (lon - x0) * k * s, Y = (lat) => 20 + (y1 - lat) * s;
  for (const a of m.areas.filter((a) => a.kind === "station")) {
    const d = a.polygons.map((p) => p.map((r) => "M" + r.map(([lo, la]) => `${X(lo).toFixed(1)},${Y(la).toFixed(1)}`).join("L") + "Z").join("")).join("");
    const path = svg("path", { d, class: `area ${S.me && a.desk_id === S.me.user.desk_id ? "mine" : ""}` });
    const title = svg("title"); title.textContent = a.name; path.append(title);
    el.append(path);
    const r0 = a.polygons[0][0];
    const label = svg("text", { x: X(r0.reduce((s, p) => s + p[0], 0) / r0.length), y: Y(r0.reduce((s, p) => s + p[1], 0) / r0.length) });
    label.textContent = a.name; el.append(label);
  }
  for (const c of m.cameras) {
    const dot = svg("circle", { cx: X(c.lon), cy: Y(c.lat), r: c.id === cameraId ? 9 : 5, class: `cam ${c.id === cameraId ? "here" : ""}` });
    const title = svg("title"); title.textContent = c.name; dot.append(title);
    el.append(dot);
  }
  return el;
}

// ---- centre overview -----------------------------------------------------------------------
async function loadOverview() {
  try {
    [S.stats, S.cameras, S.desks] = await Promise.all([api("GET", "/api/v1/stats"), api("GET", "/api/v1/cameras"), api("GET", "/api/v1/desks")]);
    const esc = await api("GET", "/api/v1/incidents?open=true&escalated=true");
    renderOverview(esc);
  } catch (e) { console.warn("overview", e); }
}

function renderOverview(escalated) {
  const el = document.getElementById("overview");
  if (!el) return;
  const name = (id) => (S.desks.find((d) => d.id === id) || {}).name || id;
  const stats = h("table", { id: "desk-stats" },
    h("thead", {}, h("tr", {}, [t("desk"), t("newC"), t("ackC"), t("dispC"), t("escC"), t("closedToday"), t("sla")].map((x) => h("th", {}, x)))),
    h("tbody", {}, S.desks.map((d) => S.stats.find((s) => s.desk_id === d.id) ||
      { desk_id: d.id, new: 0, acknowledged: 0, dispatched: 0, escalated: 0, closed_today: 0, ack_within_sla: null })
      .map((s) => h("tr", { "data-desk": s.desk_id },
      h("td", {}, name(s.desk_id)), h("td", {}, s.new), h("td", {}, s.acknowledged), h("td", {}, s.dispatched),
      h("td", { class: s.escalated ? "esc" : "" }, s.escalated), h("td", {}, s.closed_today),
      h("td", {}, s.ack_within_sla === null || s.ack_within_sla === undefined ? "—" : `${Math.round(s.ack_within_sla * 100)}%`)))));
  const cams = h("table", { id: "camera-health" },
    h("thead", {}, h("tr", {}, [t("camera"), t("desk"), t("healthLabel")].map((x) => h("th", {}, x)))),
    h("tbody", {}, S.cameras.map((c) => h("tr", {},
      h("td", {}, c.name), h("td", {}, name(c.desk_id)),
      h("td", { class: `health ${c.health}` }, tt("health", c.health), c.faults.length ? ` (${c.faults.map((f) => tt("event", f)).join("、")})` : "")))));
  const duty = h("div", { class: "duty-set", id: "duty-set" }, ["normal", "special", "wartime"].map((l) =>
    h("button", { class: `duty ${l} ${S.me.duty_level === l ? "active" : ""}`, id: `duty-${l}`, onclick: async () => {
      try { await api("PUT", "/api/v1/duty-level", { level: l }); S.me.duty_level = l; renderBanner(); loadOverview(); } catch (e) { alert(e.message); }
    } }, tt("dutyLevel", l))));
  const escList = h("table", { id: "escalated" },
    h("thead", {}, h("tr", {}, [t("prio"), t("type"), t("camera"), t("desk"), t("waited")].map((x) => h("th", {}, x)))),
    h("tbody", {}, escalated.map((i) => h("tr", { class: "incident", onclick: () => { S.view = "queue"; renderShell(); loadQueue().then(() => select(i.id)); } },
      h("td", {}, h("span", { class: `prio ${i.priority}` }, i.priority)), h("td", {}, tt("event", i.event_type)),
      h("td", {}, i.camera_name), h("td", {}, name(i.desk_id)), h("td", { class: "esc" }, `${i.escalation.waited_s}${t("seconds")}`)))));
  el.replaceChildren(
    h("h2", {}, t("setDuty")), duty,
    h("div", { class: "grid2" },
      h("div", {}, h("h2", {}, t("stations")), stats, h("h2", {}, t("escalatedList")), escalated.length ? escList : h("div", { class: "empty" }, t("none"))),
      h("div", {}, h("h2", {}, t("cameras")), cams)));
}

// ---- start -------------------------------------------------------------------------------
async function start() {
  try { S.me = await api("GET", "/api/v1/me"); } catch { return; }
  document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
  S.view = isCentre() ? "overview" : "queue";
  S.selected = null; S.detail = null; S.map = null;
  renderShell();
  if (S.view === "overview") loadOverview(); else loadQueue();
  openStream();
}

start();
