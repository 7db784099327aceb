// The desk's one store: a plain state object that only set() changes. set(patch) assigns the
// keys it is given and then calls every subscriber of any of those keys, once, in the order
// they subscribed. Views subscribe to the keys they draw from and redraw themselves; nothing
// compares values, so setting a key to what it was still redraws its views.
const data = {
  lang: localStorage.getItem("xl.lang") || "zh", // "zh" | "en"
  me: null, // GET /api/v1/me (user, desk, duty level); null on the login screen
  live: false, // the push stream said hello and has not failed since
  view: "queue", // "queue" (a station's queue, the centre's list of all) | "overview"
  incidents: new Map(), // id → incident, as the queue listing has it (camera name, place)
  filters: { type: "", state: "open", camera: "" },
  flash: new Set(), // incidents just created or escalated, highlighted when the queue redraws
  selected: null, // the incident open in the detail panel
  detail: null, // GET /api/v1/incidents/{id}, or { error }
  map: null, // GET /api/v1/map, fetched once per login
  desks: [], // the centre overview: GET /api/v1/desks, /stats, /cameras, escalated incidents
  stats: [],
  cameras: [],
  escalated: [],
};

/** Read-only: assigning a key here throws; use set(). */
export const state = new Proxy(data, {
  set() {
    throw new TypeError("state is changed only through set()");
  },
  deleteProperty() {
    throw new TypeError("state is changed only through set()");
  },
});

const subscribers = [];

export function set(patch) {
  Object.assign(data, patch);
  const keys = Object.keys(patch);
  for (const s of [...subscribers]) {
    if (s.keys.some((k) => keys.includes(k))) s.fn(state);
  }
}

/** Calls fn(state) after every set() that touches one of keys; returns the unsubscribe. */
export function subscribe(keys, fn) {
  const s = { keys, fn };
  subscribers.push(s);
  return () => {
    const i = subscribers.indexOf(s);
    if (i >= 0) subscribers.splice(i, 1);
  };
}

export const isCentre = () => data.me !== null && data.me.desk_kind === "centre";
