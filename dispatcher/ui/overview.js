// The centre's overview: the duty level it sets, each station's counts and SLA, the
// escalated incidents, and every camera's health.
import { api } from "/ui/api.js";
import { h } from "/ui/dom.js";
import { t, tt } from "/ui/i18n.js";
import { set, state, subscribe } from "/ui/state.js";

export async function loadOverview() {
  try {
    const [stats, cameras, desks] = await Promise.all([
      api("GET", "/api/v1/stats"),
      api("GET", "/api/v1/cameras"),
      api("GET", "/api/v1/desks"),
    ]);
    const escalated = await api("GET", "/api/v1/incidents?open=true&escalated=true");
    set({ stats, cameras, desks, escalated });
  } catch (e) {
    console.warn("overview", e);
  }
}

const deskName = (id) => (state.desks.find((d) => d.id === id) || {}).name || id;
const headRow = (keys) =>
  h(
    "thead",
    {},
    h(
      "tr",
      {},
      keys.map((k) => h("th", {}, t(k))),
    ),
  );

export function renderOverview() {
  const el = document.getElementById("overview");
  if (!el) return;
  const escalated = state.escalated;
  el.replaceChildren(
    h("h2", {}, t("setDuty")),
    dutySetter(),
    h(
      "div",
      { class: "grid2" },
      h(
        "div",
        {},
        h("h2", {}, t("stations")),
        deskStats(),
        h("h2", {}, t("escalatedList")),
        escalated.length ? escalatedList(escalated) : h("div", { class: "empty" }, t("none")),
      ),
      h("div", {}, h("h2", {}, t("cameras")), cameraHealth()),
    ),
  );
}

function dutySetter() {
  const choose = async (level) => {
    try {
      await api("PUT", "/api/v1/duty-level", { level });
      set({ me: { ...state.me, duty_level: level } });
      loadOverview();
    } catch (e) {
      alert(e.message);
    }
  };
  return h(
    "div",
    { class: "duty-set", id: "duty-set" },
    ["normal", "special", "wartime"].map((l) =>
      h(
        "button",
        {
          class: `duty ${l} ${state.me.duty_level === l ? "active" : ""}`,
          id: `duty-${l}`,
          onclick: () => choose(l),
        },
        tt("dutyLevel", l),
      ),
    ),
  );
}

function deskStats() {
  const zero = (id) => ({
    desk_id: id,
    new: 0,
    acknowledged: 0,
    dispatched: 0,
    escalated: 0,
    closed_today: 0,
    ack_within_sla: null,
  });
  const sla = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`);
  return h(
    "table",
    { id: "desk-stats" },
    headRow(["desk", "newC", "ackC", "dispC", "escC", "closedToday", "sla"]),
    h(
      "tbody",
      {},
      state.desks
        .map((d) => state.stats.find((s) => s.desk_id === d.id) || zero(d.id))
        .map((s) =>
          h(
            "tr",
            { "data-desk": s.desk_id },
            h("td", {}, deskName(s.desk_id)),
            h("td", {}, s.new),
            h("td", {}, s.acknowledged),
            h("td", {}, s.dispatched),
            h("td", { class: s.escalated ? "esc" : "" }, s.escalated),
            h("td", {}, s.closed_today),
            h("td", {}, sla(s.ack_within_sla)),
          ),
        ),
    ),
  );
}

function escalatedList(escalated) {
  // Opening one switches to the queue with it selected.
  const open = (id) => {
    set({ view: "queue" });
    set({ selected: id });
  };
  return h(
    "table",
    { id: "escalated" },
    headRow(["prio", "type", "camera", "desk", "waited"]),
    h(
      "tbody",
      {},
      escalated.map((i) =>
        h(
          "tr",
          { class: "incident", onclick: () => open(i.id) },
          h("td", {}, h("span", { class: `prio ${i.priority}` }, i.priority)),
          h("td", {}, tt("event", i.event_type)),
          h("td", {}, i.camera_name),
          h("td", {}, deskName(i.desk_id)),
          h("td", { class: "esc" }, `${i.escalation.waited_s}${t("seconds")}`),
        ),
      ),
    ),
  );
}

// What the camera's edge last reported: its stream state, the edge (node) that runs it and
// the analysed frame rate. No status at all: no edge ever ran it.
function liveCells(c) {
  const s = c.status;
  if (!s)
    return [h("td", { class: "stream none" }, t("noStatus")), h("td", {}, "—"), h("td", {}, "—")];
  const unwatched = c.faults.includes("camera_unwatched");
  return [
    h(
      "td",
      {
        class: `stream ${unwatched ? "unwatched" : s.state}`,
        title: s.reason || "",
      },
      unwatched ? tt("event", "camera_unwatched") : tt("stream", s.state),
    ),
    h("td", { class: "node" }, s.node),
    h("td", { class: "fps" }, unwatched ? "—" : String(s.fps_analysed)),
  ];
}

function cameraHealth() {
  return h(
    "table",
    { id: "camera-health" },
    headRow(["camera", "desk", "streamLabel", "nodeLabel", "fpsLabel", "healthLabel"]),
    h(
      "tbody",
      {},
      state.cameras.map((c) =>
        h(
          "tr",
          { "data-camera": c.id },
          h("td", {}, c.name),
          h("td", {}, deskName(c.desk_id)),
          ...liveCells(c),
          h(
            "td",
            { class: `health ${c.health}` },
            tt("health", c.health),
            c.faults.length ? ` (${c.faults.map((f) => tt("event", f)).join("、")})` : "",
          ),
        ),
      ),
    ),
  );
}

subscribe(["stats", "cameras", "desks", "escalated"], renderOverview);
