//! A synthetic city for routing tests and benchmarks: a lattice of police-station areas with
//! real outline sizes, optionally the awkward shapes real `jurisdictions.geojson` files have,
//! community grids, a route tree with category routes, and cameras each raising an alert.
//! Built through `Jurisdictions::parse` / `NodeConfig::parse` / `Inventory::parse` on generated
//! text, so it follows the real validation rules.
//!
//! A [`Lattice`] of `cols × rows` stations, station `(r, c)` (index `r * cols + c`) with its
//! lower-left corner at [`Lattice::origin`], desk `desk-{r}-{c}`, area `st-{r}-{c}`:
//! - each station a square drawn with 400 vertices (real 辖区 outlines have hundreds to
//!   thousands), cut into `grids_per_side²` **grids** `g-{r}-{c}-{gr}-{gc}` (`kind = "grid"`,
//!   same desk);
//! - with `odd_shapes` ([`Lattice::odd`], the routing benchmark's city):
//!   - every 7th station has a **hole** filled by an **enclave** station `en-{r}-{c}` (the next
//!     station's desk, as enclaves usually are), so lookups there hit two candidate polygons
//!     and must honour the hole;
//!   - every 5th station is a **MultiPolygon** of two halves sharing a seam (hand-drawn
//!     parts), and every 10th of those also has an **exclave island** south of the city, far
//!     from its main part (the case per-part bounding boxes exist for);
//! - desks `centre` (the fallback), `video-ops`, `school-safety`, `grid-workers` and the route
//!   tree of ROUTING.md's examples A and B combined: camera faults to maintenance, crowds copied
//!   to the centre, nested school routes, low-severity community cameras to the grid workers;
//!   everything else by jurisdiction.
//!
//! [`Lattice::city`] adds cameras spread uniformly over the city plus a [`MARGIN`], so ~5 %
//! lie outside every station and fall back to the centre, each with one alert.

use crate::Rng;
use std::fmt::Write as _;
use std::path::Path;
use xueliang_core::config::{CameraConfig, Inventory, Jurisdictions, NodeConfig};
use xueliang_core::contract::{AlertV1, EventType, Severity};

/// South-west corner of the lattice (Shenzhen).
pub const LON0: f64 = 113.8;
pub const LAT0: f64 = 22.4;
/// Margin (degrees) around the lattice where [`Lattice::city`] also places cameras.
pub const MARGIN: f64 = 0.02;

/// The shape of a synthetic city.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lattice {
    pub cols: usize,
    pub rows: usize,
    /// Side of a station's square, in degrees.
    pub station: f64,
    pub grids_per_side: usize,
    /// Holes with enclaves, MultiPolygons, exclave islands (see the module doc).
    pub odd_shapes: bool,
}

/// Everything `Router::new` and `Router::route` need.
#[derive(Debug)]
pub struct City {
    pub node: NodeConfig,
    pub jurisdictions: Jurisdictions,
    pub cameras: Vec<CameraConfig>,
    /// `alerts[i]` comes from `cameras[i]`.
    pub alerts: Vec<AlertV1>,
    /// Station areas (including enclaves), for the report.
    pub stations: usize,
}

/// The routing benchmark's city: [`Lattice::odd`] with `cameras` cameras, each with one alert.
pub fn city(cols: usize, rows: usize, cameras: usize, seed: u64) -> City {
    Lattice::odd(cols, rows).city(cameras, seed)
}

impl Lattice {
    /// 0.04° stations with 4 × 4 grids and every odd shape.
    pub fn odd(cols: usize, rows: usize) -> Lattice {
        Lattice {
            cols,
            rows,
            station: 0.04,
            grids_per_side: 4,
            odd_shapes: true,
        }
    }

    /// Plain squares of `station` degrees with `grids_per_side²` grids each: every point of
    /// the lattice has exactly one station and one grid.
    pub fn plain(cols: usize, rows: usize, station: f64, grids_per_side: usize) -> Lattice {
        Lattice {
            cols,
            rows,
            station,
            grids_per_side,
            odd_shapes: false,
        }
    }

    /// Lower-left corner of station `(r, c)`.
    pub fn origin(&self, r: usize, c: usize) -> (f64, f64) {
        (
            LON0 + c as f64 * self.station,
            LAT0 + r as f64 * self.station,
        )
    }

    /// Side of a grid.
    pub fn grid(&self) -> f64 {
        self.station / self.grids_per_side as f64
    }

    /// Whether station `index` has a hole (filled by an enclave).
    pub fn has_hole(&self, index: usize) -> bool {
        self.odd_shapes && index % 7 == 3
    }

    /// Whether station `index` is a MultiPolygon of two halves.
    pub fn is_multi(&self, index: usize) -> bool {
        self.odd_shapes && index % 5 == 1
    }

    /// Whether station `index` (a MultiPolygon) also has an exclave island.
    pub fn has_island(&self, index: usize) -> bool {
        self.odd_shapes && index % 10 == 1
    }

    /// Side of the hole (and enclave) in the middle of a station with a hole.
    pub fn hole(&self) -> f64 {
        self.station / 4.0
    }

    /// Lower-left corner of the hole of station `(r, c)`.
    pub fn hole_origin(&self, r: usize, c: usize) -> (f64, f64) {
        let (x0, y0) = self.origin(r, c);
        let off = (self.station - self.hole()) / 2.0;
        (x0 + off, y0 + off)
    }

    /// Side of an exclave island.
    pub fn island(&self) -> f64 {
        self.station / 3.0
    }

    /// Lower-left corner of the exclave island of station `(r, c)`: below the city, beyond
    /// the cameras' margin, one row of islands per station row, clear of every other area.
    pub fn island_origin(&self, r: usize, c: usize) -> (f64, f64) {
        let pitch = self.station / 2.0;
        (
            LON0 + c as f64 * self.station,
            LAT0 - MARGIN - (r + 1) as f64 * pitch,
        )
    }

    /// Station areas, enclaves included.
    pub fn stations(&self) -> usize {
        let n = self.cols * self.rows;
        n + (0..n).filter(|&i| self.has_hole(i)).count()
    }

    /// Every area: stations, enclaves and grids.
    pub fn areas(&self) -> usize {
        self.stations() + self.cols * self.rows * self.grids_per_side * self.grids_per_side
    }

    /// The node configuration: the desks and the route tree.
    pub fn node_toml(&self) -> String {
        let mut node = String::from(
            "[inventory]\ncameras = \"c.toml\"\njurisdictions = \"j.geojson\"\n\n\
             [[desk]]\nid = \"centre\"\nname = \"district centre\"\nkind = \"centre\"\n\n\
             [[desk]]\nid = \"video-ops\"\nname = \"video ops\"\nkind = \"queue\"\n\n\
             [[desk]]\nid = \"school-safety\"\nname = \"school safety\"\nkind = \"queue\"\n\n\
             [[desk]]\nid = \"grid-workers\"\nname = \"grid workers\"\nkind = \"queue\"\n",
        );
        for r in 0..self.rows {
            for c in 0..self.cols {
                let desk = format!("desk-{r}-{c}");
                let _ = write!(
                    node,
                    "\n[[desk]]\nid = \"{desk}\"\nname = \"{desk}\"\nkind = \"station\"\n"
                );
            }
        }
        node.push_str(ROUTES);
        node
    }

    pub fn node(&self) -> NodeConfig {
        NodeConfig::parse(&self.node_toml(), Path::new("city-xueliang.toml"))
            .expect("the synthetic city's node config is valid")
    }

    /// The jurisdictions as GeoJSON text.
    pub fn geojson(&self) -> String {
        let mut features = Vec::new();
        let (station, grid, hole) = (self.station, self.grid(), self.hole());
        for r in 0..self.rows {
            for c in 0..self.cols {
                let index = r * self.cols + c;
                let (x0, y0) = self.origin(r, c);
                let desk = format!("desk-{r}-{c}");
                let geometry = if self.is_multi(index) {
                    // Two halves sharing the vertical seam, 100 points per long edge.
                    let half = station / 2.0;
                    let mut parts = vec![
                        vec![ring(x0, y0, half, station, 100)],
                        vec![ring(x0 + half, y0, half, station, 100)],
                    ];
                    if self.has_island(index) {
                        let (ix, iy) = self.island_origin(r, c);
                        parts.push(vec![ring(ix, iy, self.island(), self.island(), 30)]);
                    }
                    serde_json::json!({"type": "MultiPolygon", "coordinates": parts})
                } else if self.has_hole(index) {
                    let (hx, hy) = self.hole_origin(r, c);
                    polygon(vec![
                        ring(x0, y0, station, station, 100),
                        reversed(ring(hx, hy, hole, hole, 20)),
                    ])
                } else {
                    polygon(vec![ring(x0, y0, station, station, 100)])
                };
                features.push(feature(&format!("st-{r}-{c}"), &desk, "station", geometry));
                if self.has_hole(index) {
                    // The enclave belongs to the next station's desk, as enclaves usually do.
                    let (hx, hy) = self.hole_origin(r, c);
                    let other = format!("desk-{r}-{}", (c + 1) % self.cols);
                    features.push(feature(
                        &format!("en-{r}-{c}"),
                        &other,
                        "station",
                        polygon(vec![ring(hx, hy, hole, hole, 20)]),
                    ));
                }
                for gr in 0..self.grids_per_side {
                    for gc in 0..self.grids_per_side {
                        features.push(feature(
                            &format!("g-{r}-{c}-{gr}-{gc}"),
                            &desk,
                            "grid",
                            polygon(vec![ring(
                                x0 + gc as f64 * grid,
                                y0 + gr as f64 * grid,
                                grid,
                                grid,
                                5,
                            )]),
                        ));
                    }
                }
            }
        }
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
    }

    pub fn jurisdictions(&self) -> Jurisdictions {
        Jurisdictions::parse(&self.geojson(), Path::new("city-jurisdictions.geojson"))
            .expect("the synthetic city's jurisdictions are valid")
    }

    /// The city with `cameras` cameras (ids `4403` + 16 digits) placed uniformly over it plus
    /// [`MARGIN`], mostly police cameras, some of the community tiers, 5 % tagged `school`;
    /// each raises one alert (about one in seven a camera fault, severities uniform).
    pub fn city(&self, cameras: usize, seed: u64) -> City {
        let (cameras, alerts) = self.cameras_and_alerts(cameras, seed);
        City {
            node: self.node(),
            jurisdictions: self.jurisdictions(),
            cameras,
            alerts,
            stations: self.stations(),
        }
    }

    fn cameras_and_alerts(&self, n: usize, seed: u64) -> (Vec<CameraConfig>, Vec<AlertV1>) {
        let mut rng = Rng::new(seed);
        let mut toml = String::with_capacity(n * 200);
        // Mostly police cameras; the rest from the 社会资源 tiers the community route looks at.
        const TIERS: [&str; 10] = [
            "police",
            "police",
            "police",
            "police",
            "police",
            "district",
            "district",
            "town",
            "village",
            "enterprise",
        ];
        let (lon1, lat1) = (
            LON0 + self.cols as f64 * self.station,
            LAT0 + self.rows as f64 * self.station,
        );
        for i in 0..n {
            let lon = rng.range(LON0 - MARGIN, lon1 + MARGIN);
            let lat = rng.range(LAT0 - MARGIN, lat1 + MARGIN);
            let tier = TIERS[rng.below(TIERS.len())];
            let tags = if rng.unit() < 0.05 {
                "[\"school\"]"
            } else {
                "[]"
            };
            let _ = write!(
                toml,
                "[[camera]]\nid = \"4403{i:016}\"\nname = \"c{i}\"\n\
                 url = \"rtsp://10.0.0.1/{i}\"\nlocation = {{ lat = {lat}, lon = {lon} }}\n\
                 tier = \"{tier}\"\ntags = {tags}\n"
            );
        }
        let inv = Inventory::parse(&toml, Path::new("city-cameras.toml"), &|_| None)
            .expect("the synthetic city's camera inventory is valid");
        let at = chrono::DateTime::parse_from_rfc3339("2025-06-02T12:00:00Z")
            .expect("a valid timestamp")
            .to_utc();
        const SEVERITIES: [Severity; 4] = [
            Severity::Info,
            Severity::Minor,
            Severity::Major,
            Severity::Critical,
        ];
        let (faults, events): (Vec<EventType>, Vec<EventType>) =
            EventType::ALL.iter().partition(|e| e.is_camera_fault());
        let alerts = inv
            .cameras
            .iter()
            .map(|c| {
                // Camera faults are about one alert in seven.
                let pool = if rng.unit() < 0.15 { &faults } else { &events };
                let event = pool[rng.below(pool.len())];
                AlertV1::new(
                    c.id.clone(),
                    event,
                    SEVERITIES[rng.below(SEVERITIES.len())],
                    "bench-rule",
                    at,
                )
            })
            .collect();
        (inv.cameras, alerts)
    }
}

/// A closed ring around `[x0, x0 + w] × [y0, y0 + h]`, counter-clockwise, `per_edge` points on
/// each edge.
pub fn ring(x0: f64, y0: f64, w: f64, h: f64, per_edge: usize) -> Vec<[f64; 2]> {
    let corners = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)];
    let mut pts = Vec::with_capacity(per_edge * 4 + 1);
    for k in 0..4 {
        let (ax, ay) = corners[k];
        let (bx, by) = corners[(k + 1) % 4];
        for i in 0..per_edge {
            let t = i as f64 / per_edge as f64;
            pts.push([ax + (bx - ax) * t, ay + (by - ay) * t]);
        }
    }
    pts.push(pts[0]);
    pts
}

/// The ring clockwise (GeoJSON holes wind opposite to their exterior).
fn reversed(mut ring: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    ring.reverse();
    ring
}

fn feature(id: &str, desk: &str, kind: &str, geometry: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "type": "Feature",
        "properties": {"id": id, "name": id, "desk_id": desk, "kind": kind},
        "geometry": geometry,
    })
}

fn polygon(rings: Vec<Vec<[f64; 2]>>) -> serde_json::Value {
    serde_json::json!({"type": "Polygon", "coordinates": rings})
}

const ROUTES: &str = r#"
[dispatcher.route]
receiver = "jurisdiction"

[[dispatcher.route.routes]]
name = "camera-faults"
matchers = { camera_fault = true }
receiver = "video-ops"

[[dispatcher.route.routes]]
name = "crowd-to-centre"
matchers = { event_type = "crowd_gathering" }
receiver = "centre"
continue = true

[[dispatcher.route.routes]]
name = "schools"
matchers = { camera_tag = ["school", "kindergarten"] }

[[dispatcher.route.routes.routes]]
name = "schools-serious"
matchers = { severity = ">=major" }
receiver = "school-safety"
continue = true

[[dispatcher.route.routes.routes]]
name = "schools-parking"
matchers = { event_type = "stationary_vehicle" }
receiver = "school-safety"

[[dispatcher.route.routes]]
name = "community-low"
matchers = { tier = ["village", "enterprise"], severity = "<=minor" }
receiver = "grid-workers"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lattice_has_one_station_and_its_grids_per_cell() {
        let l = Lattice::plain(4, 3, 0.05, 5);
        let j = l.jurisdictions();
        assert_eq!(j.areas.len(), 4 * 3 * (1 + 25));
        assert_eq!(l.areas(), j.areas.len());
        assert_eq!(l.stations(), 12);
        assert!((0..12).all(|i| !l.has_hole(i) && !l.is_multi(i) && !l.has_island(i)));
        assert_eq!(l.node().desks.len(), 4 + 12);
    }

    #[test]
    fn odd_city_has_enclaves_multipolygons_and_islands() {
        let city = city(10, 5, 500, 5);
        let l = Lattice::odd(10, 5);
        assert!(city.stations > 50, "no enclaves");
        assert_eq!(city.stations, l.stations());
        assert_eq!(city.jurisdictions.areas.len(), l.areas());
        assert_eq!(city.cameras.len(), 500);
        assert_eq!(city.alerts.len(), 500);
        assert!((0..50).any(|i| l.has_island(i)) && (0..50).any(|i| l.has_hole(i)));
        // Deterministic: the same seed gives the same cameras and alerts.
        let again = Lattice::odd(10, 5).city(500, 5);
        assert_eq!(again.cameras[499].location, city.cameras[499].location);
        assert_eq!(again.alerts[499].event_type, city.alerts[499].event_type);
        assert!(city.alerts.iter().any(|a| a.event_type.is_camera_fault()));
        assert!(city.cameras.iter().any(|c| !c.tags.is_empty()));
    }

    #[test]
    fn rings_are_closed_and_counter_clockwise() {
        let r = ring(0.0, 0.0, 2.0, 1.0, 3);
        assert_eq!(r.len(), 13);
        assert_eq!(r[0], r[12]);
        // Shoelace: positive area for counter-clockwise.
        let area: f64 = r
            .windows(2)
            .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
            .sum();
        assert!((area / 2.0 - 2.0).abs() < 1e-12, "{area}");
    }
}
