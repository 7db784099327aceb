// The incident panel: what happened where (snapshots, map), who has it, its history, and the
// lifecycle actions (acknowledge → dispatch → close) the API allows from its state.
import { api } from "/ui/api.js";
import { h } from "/ui/dom.js";
import { TEXT, clock, t, tt } from "/ui/i18n.js";
import { drawMap, loadMap } from "/ui/map.js";
import { loadQueue } from "/ui/queue.js";
import { set, state, subscribe } from "/ui/state.js";

export async function loadDetail(id) {
  let detail;
  try {
    detail = await api("GET", `/api/v1/incidents/${id}`);
    await loadMap();
  } catch (e) {
    detail = { error: e.message };
  }
  set({ detail });
}

export function renderDetail() {
  const el = document.getElementById("detail");
  if (!el) return;
  const d = state.detail;
  if (!d || state.selected === null) {
    el.replaceChildren(h("div", { class: "empty" }, t("pick")));
    return;
  }
  if (d.error) {
    el.replaceChildren(h("div", { class: "error" }, d.error));
    return;
  }
  el.replaceChildren(
    h(
      "h2",
      {},
      h("span", { class: `prio ${d.priority}` }, d.priority),
      tt("event", d.event_type),
      h(
        "span",
        { class: `state ${d.state}`, id: "detail-state", "data-state": d.state },
        tt("st", d.state),
      ),
    ),
    facts(d),
    ...actions(d),
    h("h3", {}, t("snapshots")),
    h(
      "div",
      { class: "snaps", id: "snapshots" },
      d.alerts
        .filter((a) => a.snapshot_url)
        .map((a) =>
          h(
            "figure",
            {},
            h("img", {
              src: a.snapshot_url,
              alt: a.summary || tt("event", a.event_type),
              loading: "lazy",
            }),
            h("figcaption", {}, `${clock(a.captured_at)} ${a.summary || ""}`),
          ),
        ),
    ),
    h("h3", {}, t("map")),
    drawMap(d.camera_id),
    h("h3", {}, t("history")),
    h(
      "ol",
      { class: "history", id: "history" },
      d.history.map((x) =>
        h(
          "li",
          { "data-action": x.action },
          `${clock(x.at)} `,
          h("span", { class: "who" }, x.actor),
          x.from_addr ? h("span", { class: "muted" }, ` @${x.from_addr}`) : null,
          ` ${tt("action", x.action)}`,
          x.note ? ` — ${x.note}` : "",
        ),
      ),
    ),
  );
}

function facts(d) {
  const cam = d.camera;
  const pair = (term, value, cls) => [h("dt", {}, term), h("dd", { class: cls }, value)];
  return h(
    "dl",
    { class: "kv" },
    pair(t("camera"), d.camera_name || d.camera_id),
    pair(t("place"), d.place || "—"),
    pair(
      t("location"),
      cam ? `${cam.location.lat.toFixed(5)}, ${cam.location.lon.toFixed(5)}` : "—",
    ),
    pair(t("firstSeen"), clock(d.first_seen)),
    pair(t("lastSeen"), `${clock(d.last_seen)} · ${t("count")} ${d.alert_count}`),
    pair(
      t("routedTo"),
      d.desks.map((x) => `${x.desk_name || x.desk_id}（${tt("role", x.role)}）`).join("，"),
    ),
    d.escalation
      ? pair(
          t("escalatedTo"),
          `${d.escalation.to_desk} · ${t("waited")} ${d.escalation.waited_s}${t("seconds")}`,
          "esc",
        )
      : null,
    d.dispatch ? pair(t("unit"), `${d.dispatch.unit} ${d.dispatch.note || ""}`) : null,
    d.disposition ? pair(t("disposition"), tt("disp", d.disposition)) : null,
    d.silenced ? pair("", t("silenced"), "muted") : null,
  );
}

/** The action row and the line for its errors. */
function actions(d) {
  const error = h("div", { class: "error", id: "action-error" });
  const act = async (what, body) => {
    error.textContent = "";
    try {
      await api("POST", `/api/v1/incidents/${d.id}/${what}`, body);
      await loadDetail(d.id);
      loadQueue();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const unit = h("input", { id: "dispatch-unit", placeholder: t("unit") });
  const note = h("input", { id: "action-note", placeholder: t("note") });
  const disp = h(
    "select",
    { id: "close-disposition" },
    Object.keys(TEXT.zh.disp).map((k) => h("option", { value: k }, tt("disp", k))),
  );
  const dispatch = () => {
    if (unit.value.trim()) act("dispatch", { unit: unit.value.trim(), note: note.value });
    else error.textContent = t("needUnit");
  };
  const row = h(
    "div",
    { class: "actions" },
    h(
      "button",
      {
        id: "btn-ack",
        class: "primary",
        disabled: d.state !== "new",
        onclick: () => act("ack", { note: note.value }),
      },
      t("ack"),
    ),
    unit,
    h(
      "button",
      { id: "btn-dispatch", disabled: d.state !== "acknowledged", onclick: dispatch },
      t("dispatch"),
    ),
    disp,
    h(
      "button",
      {
        id: "btn-close",
        class: "danger",
        disabled: d.state === "closed",
        onclick: () => act("close", { disposition: disp.value, note: note.value }),
      },
      t("close"),
    ),
    note,
  );
  return [row, error];
}

subscribe(["detail"], renderDetail);
// Choosing an incident (a queue row, an escalated one in the overview) loads it here.
subscribe(["selected"], ({ selected }) => {
  if (selected !== null) loadDetail(selected);
});
