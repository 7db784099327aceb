// The queue: a desk's incidents (the centre's: all of them), filtered, most urgent first,
// updated live from the push stream with a visible and an audible cue for urgent ones.
import { api } from "/ui/api.js";
import { h } from "/ui/dom.js";
import { TEXT, age, t, tt } from "/ui/i18n.js";
import { isCentre, set, state, subscribe } from "/ui/state.js";

export async function loadQueue() {
  const f = state.filters;
  const q = new URLSearchParams();
  if (f.state === "open") q.set("open", "true");
  else if (f.state) q.set("state", f.state);
  if (f.type) q.set("event_type", f.type);
  if (f.camera) q.set("camera_id", f.camera);
  q.set("limit", "500");
  try {
    const rows = await api("GET", `/api/v1/incidents?${q}`);
    set({ incidents: new Map(rows.map((r) => [r.id, r])) });
  } catch (e) {
    console.warn("queue", e);
  }
}

/** One `incident` push: merge it, cue it if urgent, fetch the listing for a new one. */
export function applyIncidentChange(c) {
  const id = c.incident.id;
  const known = state.incidents.get(id);
  if (c.kind === "created" || c.kind === "escalated") {
    set({ flash: new Set(state.flash).add(id) });
    const p = c.incident.priority;
    if (p === "P1" || p === "P2" || c.kind === "escalated") beep(p === "P1" ? 3 : 1);
    setTimeout(() => {
      const flash = new Set(state.flash);
      flash.delete(id);
      set({ flash });
    }, 4000);
  }
  // Camera name and place come with the queue listing; fetch them for new incidents.
  if (known) set({ incidents: new Map(state.incidents).set(id, { ...known, ...c.incident }) });
  else loadQueue();
}

function matchesFilters(i) {
  const f = state.filters;
  if (f.state === "open" && i.state === "closed") return false;
  if (f.state && f.state !== "open" && i.state !== f.state) return false;
  if (f.type && i.event_type !== f.type) return false;
  if (f.camera && i.camera_id !== f.camera) return false;
  return true;
}

function filter(key, value) {
  set({ filters: { ...state.filters, [key]: value } });
  loadQueue();
}

export function renderQueue() {
  const el = document.getElementById("queue");
  if (!el) return;
  const all = [...state.incidents.values()];
  const rows = all
    .filter(matchesFilters)
    .sort(
      (a, b) =>
        a.priority.localeCompare(b.priority) || Date.parse(a.first_seen) - Date.parse(b.first_seen),
    );
  const sel = (id, value, options, on) =>
    h(
      "select",
      { id, onchange: (e) => on(e.target.value) },
      options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
    );
  const cams = [...new Map(all.map((i) => [i.camera_id, i.camera_name || i.camera_id])).entries()];
  const f = state.filters;
  const filters = h(
    "div",
    { class: "filters" },
    sel(
      "filter-type",
      f.type,
      [["", t("allTypes")], ...Object.keys(TEXT.zh.event).map((k) => [k, tt("event", k)])],
      (v) => filter("type", v),
    ),
    sel(
      "filter-state",
      f.state,
      [
        ["open", t("allStates")],
        ["", t("anyState")],
        ...Object.keys(TEXT.zh.st).map((k) => [k, tt("st", k)]),
      ],
      (v) => filter("state", v),
    ),
    sel("filter-camera", f.camera, [["", t("allCameras")], ...cams], (v) => filter("camera", v)),
  );
  const head = h(
    "tr",
    {},
    ["prio", "type", "camera", "place", "age", "count", "state", "escalated"].map((k) =>
      h("th", {}, t(k)),
    ),
  );
  const body = rows.map((i) =>
    h(
      "tr",
      {
        class: `incident ${state.selected === i.id ? "selected" : ""} ${state.flash.has(i.id) ? "flash" : ""}`,
        "data-id": i.id,
        "data-testid": "incident-row",
        onclick: () => set({ selected: i.id }),
      },
      h("td", {}, h("span", { class: `prio ${i.priority}` }, i.priority)),
      h(
        "td",
        {},
        tt("event", i.event_type),
        i.silenced ? h("span", { class: "muted", title: t("silenced") }, " 🔕") : null,
      ),
      h("td", {}, i.camera_name || i.camera_id),
      h("td", { class: "muted" }, i.place || "—"),
      h("td", { class: "age", "data-since": i.first_seen }, age(i.first_seen)),
      h("td", {}, i.alert_count),
      h("td", {}, h("span", { class: `state ${i.state}` }, tt("st", i.state))),
      h("td", {}, i.escalation ? h("span", { class: "esc" }, `⬆ ${age(i.escalation.at)}`) : ""),
    ),
  );
  el.replaceChildren(
    h("h2", {}, `${isCentre() ? t("allQueues") : t("queue")} (${rows.length})`),
    filters,
    rows.length
      ? h("table", { id: "queue-table" }, h("thead", {}, head), h("tbody", {}, body))
      : h("div", { class: "empty" }, t("none")),
  );
}

subscribe(["incidents", "selected"], renderQueue);

// Ages tick every second without redrawing the table.
setInterval(() => {
  for (const td of document.querySelectorAll("td.age")) td.textContent = age(td.dataset.since);
}, 1000);

// ---- audible cue ------------------------------------------------------------------------
let audio;
function beep(times) {
  try {
    audio = audio || new AudioContext();
    for (let i = 0; i < times; i++) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = 880;
      o.connect(g);
      g.connect(audio.destination);
      const at = audio.currentTime + i * 0.35;
      g.gain.setValueAtTime(0.2, at);
      g.gain.setValueAtTime(0, at + 0.2);
      o.start(at);
      o.stop(at + 0.25);
    }
  } catch {
    // No audio device: the visual cue remains.
  }
}
