// The jurisdiction map: station areas and cameras from GET /api/v1/map, drawn as SVG in a
// local equirectangular projection (no tiles: nothing outside the node is reachable).
import { api } from "/ui/api.js";
import { svg } from "/ui/dom.js";
import { set, state } from "/ui/state.js";

/** The map, fetched once per login. */
export async function loadMap() {
  if (!state.map) set({ map: await api("GET", "/api/v1/map") });
  return state.map;
}

/** The areas (the caller's station's marked "mine") and every camera, cameraId's larger. */
export function drawMap(cameraId) {
  const m = state.map;
  const el = svg("svg", {
    class: "map",
    id: "map",
    viewBox: "0 0 1000 500",
    preserveAspectRatio: "xMidYMid meet",
  });
  if (!m) return el;
  const pts = [];
  for (const a of m.areas) for (const p of a.polygons) for (const r of p) pts.push(...r);
  for (const c of m.cameras) pts.push([c.lon, c.lat]);
  if (!pts.length) return el;
  const lons = pts.map((p) => p[0]);
  const lats = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...lons), Math.max(...lons)];
  const [y0, y1] = [Math.min(...lats), Math.max(...lats)];
  // Shrink longitude by the cosine of the middle latitude so areas keep their shape.
  const k = Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
  const s = Math.min(960 / Math.max((x1 - x0) * k, 1e-9), 460 / Math.max(y1 - y0, 1e-9));
  const X = (lon) => 20 + (lon - x0) * k * s;
  const Y = (lat) => 20 + (y1 - lat) * s;
  const mine = state.me && state.me.user.desk_id;
  for (const a of m.areas.filter((a) => a.kind === "station")) {
    const d = a.polygons
      .map((p) =>
        p
          .map(
            (r) =>
              "M" + r.map(([lo, la]) => `${X(lo).toFixed(1)},${Y(la).toFixed(1)}`).join("L") + "Z",
          )
          .join(""),
      )
      .join("");
    const path = svg("path", { d, class: `area ${a.desk_id === mine ? "mine" : ""}` });
    const title = svg("title");
    title.textContent = a.name;
    path.append(title);
    el.append(path);
    const r0 = a.polygons[0][0];
    const label = svg("text", {
      x: X(r0.reduce((sum, p) => sum + p[0], 0) / r0.length),
      y: Y(r0.reduce((sum, p) => sum + p[1], 0) / r0.length),
    });
    label.textContent = a.name;
    el.append(label);
  }
  for (const c of m.cameras) {
    const here = c.id === cameraId;
    const dot = svg("circle", {
      cx: X(c.lon),
      cy: Y(c.lat),
      r: here ? 9 : 5,
      class: `cam ${here ? "here" : ""}`,
    });
    const title = svg("title");
    title.textContent = c.name;
    dot.append(title);
    el.append(dot);
  }
  return el;
}
