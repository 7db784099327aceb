//! A synthetic city for the routing benchmark: a lattice of police-station areas with real
//! outline sizes, the awkward shapes real `jurisdictions.geojson` files have, community grids,
//! a route tree with category routes, and 10,000 cameras each raising an alert.
//!
//! The city (built the way `dispatcher/tests/routing_scale.rs` builds its own, through
//! `Jurisdictions::parse` on GeoJSON text):
//! - `cols × rows` stations, each a 0.04° square drawn with 400 vertices (real 辖区 outlines
//!   have hundreds to thousands);
//! - every 7th station has a **hole** filled by an **enclave** station (another desk's small
//!   area inside it), so lookups there hit two candidate polygons and must honour the hole;
//! - every 5th station is a **MultiPolygon** of two halves sharing a seam (hand-drawn parts),
//!   and every 10th of those also has an **exclave island** south of the city, far from its
//!   main part (the case per-part bounding boxes exist for);
//! - 4 × 4 **grids** per station (`kind = "grid"`);
//! - the route tree of ROUTING.md's examples A and B combined: camera faults to maintenance,
//!   crowds copied to the centre, nested school routes, low-severity community cameras to the
//!   grid workers; everything else by jurisdiction.
//!
//! Cameras are spread uniformly over the city plus a margin, so ~5 % lie outside every
//! station and fall back to the centre.

use crate::Rng;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::path::Path;
use xueliang_core::config::{CameraConfig, Inventory, Jurisdictions, NodeConfig};
use xueliang_core::contract::{AlertV1, EventType, Severity};

pub const STATION: f64 = 0.04;
pub const GRIDS_PER_SIDE: usize = 4;
pub const LON0: f64 = 113.8;
pub const LAT0: f64 = 22.4;
/// Margin (degrees) around the lattice where cameras are also placed.
const MARGIN: f64 = 0.02;

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

/// A closed ring around `[x0, x0 + w] × [y0, y0 + h]`, counter-clockwise, `per_edge` points on
/// each edge.
fn ring(x0: f64, y0: f64, w: f64, h: f64, per_edge: usize) -> Vec<[f64; 2]> {
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

/// The same ring clockwise (GeoJSON holes wind opposite to their exterior).
fn hole(x0: f64, y0: f64, side: f64, per_edge: usize) -> Vec<[f64; 2]> {
    let mut r = ring(x0, y0, side, side, per_edge);
    r.reverse();
    r
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

/// Which special shape station `index` has.
pub fn has_hole(index: usize) -> bool {
    index % 7 == 3
}
pub fn is_multi(index: usize) -> bool {
    index % 5 == 1
}
pub fn has_island(index: usize) -> bool {
    index % 10 == 1
}

/// Side of the hole (and enclave) in the middle of a station with a hole.
pub const HOLE: f64 = STATION / 4.0;

/// A city of `cols × rows` stations and `cameras` cameras, each with one alert.
pub fn city(cols: usize, rows: usize, cameras: usize, seed: u64) -> City {
    let mut features = Vec::new();
    let mut node = String::from(
        "[inventory]\ncameras = \"c.toml\"\njurisdictions = \"j.geojson\"\n\n\
         [[desk]]\nid = \"centre\"\nname = \"district centre\"\nkind = \"centre\"\n\n\
         [[desk]]\nid = \"video-ops\"\nname = \"video ops\"\nkind = \"queue\"\n\n\
         [[desk]]\nid = \"school-safety\"\nname = \"school safety\"\nkind = \"queue\"\n\n\
         [[desk]]\nid = \"grid-workers\"\nname = \"grid workers\"\nkind = \"queue\"\n",
    );
    let grid = STATION / GRIDS_PER_SIDE as f64;
    let mut stations = 0;
    for r in 0..rows {
        for c in 0..cols {
            let index = r * cols + c;
            let (x0, y0) = (LON0 + c as f64 * STATION, LAT0 + r as f64 * STATION);
            let desk = format!("desk-{r}-{c}");
            let _ = write!(
                node,
                "\n[[desk]]\nid = \"{desk}\"\nname = \"{desk}\"\nkind = \"station\"\n"
            );
            let id = format!("st-{r}-{c}");
            let geometry = if is_multi(index) {
                // Two halves sharing the vertical seam, 100 points per long edge.
                let half = STATION / 2.0;
                let mut parts = vec![
                    vec![ring(x0, y0, half, STATION, 100)],
                    vec![ring(x0 + half, y0, half, STATION, 100)],
                ];
                if has_island(index) {
                    let (ix, iy) = island_origin(r, c);
                    parts.push(vec![ring(ix, iy, ISLAND, ISLAND, 30)]);
                }
                serde_json::json!({"type": "MultiPolygon", "coordinates": parts})
            } else if has_hole(index) {
                let (hx, hy) = hole_origin(x0, y0);
                polygon(vec![
                    ring(x0, y0, STATION, STATION, 100),
                    hole(hx, hy, HOLE, 20),
                ])
            } else {
                polygon(vec![ring(x0, y0, STATION, STATION, 100)])
            };
            features.push(feature(&id, &desk, "station", geometry));
            stations += 1;
            if has_hole(index) {
                // The enclave belongs to the next station's desk, as enclaves usually do.
                let (hx, hy) = hole_origin(x0, y0);
                let other = format!("desk-{r}-{}", (c + 1) % cols);
                features.push(feature(
                    &format!("en-{r}-{c}"),
                    &other,
                    "station",
                    polygon(vec![ring(hx, hy, HOLE, HOLE, 20)]),
                ));
                stations += 1;
            }
            for gr in 0..GRIDS_PER_SIDE {
                for gc in 0..GRIDS_PER_SIDE {
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
    node.push_str(ROUTES);
    let gj = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
    let jurisdictions = Jurisdictions::parse(&gj, Path::new("bench-jurisdictions.geojson"))
        .expect("the bench jurisdictions are valid");
    let node = NodeConfig::parse(&node, Path::new("bench-xueliang.toml"))
        .expect("the bench node config is valid");

    let (cameras, alerts) = cameras_and_alerts(cols, rows, cameras, seed);
    City {
        node,
        jurisdictions,
        cameras,
        alerts,
        stations,
    }
}

/// Lower-left corner of the hole of the station whose lower-left corner is `(x0, y0)`.
pub fn hole_origin(x0: f64, y0: f64) -> (f64, f64) {
    let off = (STATION - HOLE) / 2.0;
    (x0 + off, y0 + off)
}

/// Lower-left corner of the exclave island of station `(r, c)`: below the city, beyond the
/// cameras' margin, one row of islands per station row, clear of every other area.
pub fn island_origin(r: usize, c: usize) -> (f64, f64) {
    (
        LON0 + c as f64 * STATION,
        LAT0 - MARGIN - (r + 1) as f64 * ISLAND_PITCH,
    )
}

/// Side of an exclave island, and the spacing of island rows.
pub const ISLAND: f64 = STATION / 3.0;
const ISLAND_PITCH: f64 = STATION / 2.0;

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

fn cameras_and_alerts(
    cols: usize,
    rows: usize,
    n: usize,
    seed: u64,
) -> (Vec<CameraConfig>, Vec<AlertV1>) {
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
    for i in 0..n {
        let lon = rng.range(LON0 - MARGIN, LON0 + cols as f64 * STATION + MARGIN);
        let lat = rng.range(LAT0 - MARGIN, LAT0 + rows as f64 * STATION + MARGIN);
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
    let inv = Inventory::parse(&toml, Path::new("bench-cameras.toml"), &|_| None)
        .expect("the bench camera inventory is valid");
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-06-02T12:00:00Z")
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

#[cfg(test)]
mod tests {
    use super::*;
    use xueliang_core::contract::GeoPoint;
    use xueliang_dispatcher::routing::{RouteReason, Router};

    #[test]
    fn shapes_are_honoured_and_cameras_route_to_stations() {
        let (cols, rows) = (10, 5);
        let city = city(cols, rows, 2000, 5);
        let router = Router::new(&city.node, &city.jurisdictions).unwrap();
        let station = |lon: f64, lat: f64| {
            router
                .locate(GeoPoint { lat, lon })
                .station
                .map(|a| a.id.clone())
        };
        for r in 0..rows {
            for c in 0..cols {
                let index = r * cols + c;
                let (x0, y0) = (LON0 + c as f64 * STATION, LAT0 + r as f64 * STATION);
                // Off-centre (clear of the hole) and clear of the seam.
                let p = (x0 + 0.2 * STATION, y0 + 0.2 * STATION);
                assert_eq!(station(p.0, p.1), Some(format!("st-{r}-{c}")));
                let mid = (x0 + STATION / 2.0 + 1e-4, y0 + STATION / 2.0 + 1e-4);
                let want = if has_hole(index) {
                    format!("en-{r}-{c}")
                } else {
                    format!("st-{r}-{c}")
                };
                assert_eq!(station(mid.0, mid.1), Some(want), "station {index}");
                if has_island(index) {
                    let (ix, iy) = island_origin(r, c);
                    assert_eq!(
                        station(ix + ISLAND / 2.0, iy + ISLAND / 2.0),
                        Some(format!("st-{r}-{c}"))
                    );
                }
            }
        }
        // Most cameras route by polygon, some fall back to the centre, faults go to ops.
        let mut reasons = std::collections::HashMap::new();
        for (a, c) in city.alerts.iter().zip(&city.cameras) {
            let d = router.route(a, Some(c));
            *reasons.entry(d.reason.as_str()).or_insert(0usize) += 1;
        }
        let polygon = reasons[RouteReason::Polygon.as_str()];
        let outside = reasons[RouteReason::OutsideAll.as_str()];
        assert!(polygon > 1000 && outside > 10, "{reasons:?}");
        assert!(city.stations > rows * cols, "no enclaves");
        assert!(reasons.len() >= 3, "{reasons:?}");
    }
}
