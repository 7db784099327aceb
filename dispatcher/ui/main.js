// The desk UI's entry point: login, the shell (banner, tabs, the view's panels), the live
// push and the boot. No framework, no build step: hand-written ES modules served as they are.
//   state.js     the store (state + set/subscribe)     api.js       fetch, CSRF, SSE
//   queue.js     the incident queue                      detail.js    one incident, its actions
//   map.js       the jurisdiction map (SVG)              overview.js  the centre's overview
//   i18n.js      interface text, times                   dom.js       h()/svg(): text nodes only
import { api, closeStream, login, logout, onUnauthorized, openStream } from "/ui/api.js";
import { loadDetail, renderDetail } from "/ui/detail.js";
import { h } from "/ui/dom.js";
import { t, tt } from "/ui/i18n.js";
import { loadOverview } from "/ui/overview.js";
import { applyIncidentChange, loadQueue, renderQueue } from "/ui/queue.js";
import { isCentre, set, state, subscribe } from "/ui/state.js";

// ---- login -------------------------------------------------------------------------------
function showLogin(message = "") {
  closeStream();
  set({ me: null, live: false });
  const err = h("div", { class: "error", id: "login-error" }, message);
  const user = h("input", { id: "username", autocomplete: "username", required: true });
  const pass = h("input", {
    id: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const submit = async (e) => {
    e.preventDefault();
    err.textContent = "";
    try {
      await login(user.value.trim(), pass.value);
      await start();
    } catch {
      err.textContent = t("badLogin");
    }
  };
  const form = h(
    "form",
    { class: "login", onsubmit: submit },
    h("h1", {}, "雪亮 xueliang"),
    h("p", {}, t("loginHint")),
    h("label", { for: "username" }, t("username")),
    user,
    h("label", { for: "password" }, t("password")),
    pass,
    err,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: toggleLang }, t("lang")),
      h("button", { class: "primary", type: "submit", id: "login-submit" }, t("login")),
    ),
  );
  document.getElementById("app").replaceChildren(form);
  user.focus();
}

const toggleLang = () => set({ lang: state.lang === "zh" ? "en" : "zh" });
const setDocumentLang = () => {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
};

subscribe(["lang"], ({ lang }) => {
  localStorage.setItem("xl.lang", lang);
  setDocumentLang();
  if (!state.me) return showLogin();
  renderShell();
  if (state.view === "overview") loadOverview();
});

// ---- layout ------------------------------------------------------------------------------
function renderShell() {
  const tab = (view, id, label) =>
    h(
      "button",
      { id, class: state.view === view ? "active" : "", onclick: () => set({ view }) },
      label,
    );
  const tabs = isCentre()
    ? h(
        "nav",
        { class: "tabs" },
        tab("overview", "tab-overview", t("overview")),
        tab("queue", "tab-queue", t("allQueues")),
      )
    : h("nav", { class: "tabs" }, h("button", { class: "active" }, t("queue")));
  const main =
    state.view === "overview"
      ? h("main", { class: "single" }, h("section", { class: "panel", id: "overview" }))
      : h(
          "main",
          {},
          h("section", { class: "panel", id: "queue" }),
          h("section", { class: "panel detail", id: "detail" }),
        );
  document
    .getElementById("app")
    .replaceChildren(h("header", { class: "banner", id: "banner" }), tabs, main);
  renderBanner();
  if (state.view === "queue") {
    renderQueue();
    renderDetail();
  }
}

// Camera states change without an incident (a takeover, a stream that recovers): the
// overview re-reads them every few seconds while it is shown.
setInterval(() => {
  if (state.me && state.view === "overview" && !document.hidden) loadOverview();
}, 5000);

// A view change redraws the shell and loads what the view shows.
subscribe(["view"], ({ view }) => {
  renderShell();
  if (view === "overview") loadOverview();
  else loadQueue();
});

function renderBanner() {
  const b = document.getElementById("banner");
  if (!b || !state.me) return;
  const me = state.me;
  const level = me.duty_level;
  b.replaceChildren(
    h("span", { class: "title" }, isCentre() ? t("centreApp") : t("app")),
    h("span", { class: "desk", id: "desk-name" }, `${me.desk_name} · ${me.user.display_name}`),
    h(
      "span",
      { class: `duty ${level}`, id: "duty-banner", title: t("duty") },
      `${t("duty")}：${tt("dutyLevel", level)}`,
    ),
    h("span", { class: "spacer" }),
    h(
      "span",
      { class: `live ${state.live ? "on" : "off"}`, id: "live" },
      state.live ? t("live") : t("offline"),
    ),
    h("button", { id: "lang", onclick: toggleLang }, t("lang")),
    h(
      "button",
      {
        id: "logout",
        onclick: async () => {
          await logout();
          showLogin();
        },
      },
      t("logout"),
    ),
  );
}

subscribe(["me", "live"], renderBanner);

// ---- live push ---------------------------------------------------------------------------
function openLive() {
  openStream(
    {
      // The stream is live: reload the queue, closing the gap since its first GET.
      hello: () => {
        set({ live: true });
        loadQueue();
      },
      resync: () => loadQueue(),
      duty_level: ({ level }) => {
        set({ me: { ...state.me, duty_level: level } });
        loadQueue();
      },
      incident: (c) => {
        applyIncidentChange(c);
        if (state.selected === c.incident.id) loadDetail(c.incident.id);
        if (state.view === "overview") loadOverview();
      },
    },
    () => set({ live: false }),
  );
}

// ---- start -------------------------------------------------------------------------------
async function start() {
  let me;
  try {
    me = await api("GET", "/api/v1/me");
  } catch {
    return; // 401: the login screen is up
  }
  setDocumentLang();
  set({ me, selected: null, detail: null, map: null });
  set({ view: isCentre() ? "overview" : "queue" });
  openLive();
}

onUnauthorized(() => showLogin());
start();
