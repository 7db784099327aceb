//! Routing at a city's scale: 200 station polygons with realistic vertex counts and 5,000 grid
//! polygons. Asserts that every camera lands in the right station and grid; prints the time
//! per lookup (informational only: tests make no timing assertions).
//!
//! The city is xueliang-testkit's synthetic one as a plain 20 × 10 lattice of stations, each a
//! 0.05° square drawn with 400 vertices (real 辖区 outlines have hundreds to thousands), cut
//! into 5 × 5 grids of 0.01°, with the city's route tree (which sends these cameras' alerts by
//! jurisdiction, and those outside every station to the centre).

use chrono::Utc;
use std::path::Path;
use std::time::Instant;
use xueliang_core::config::{Inventory, Jurisdictions, NodeConfig};
use xueliang_core::contract::{AlertV1, EventType, GeoPoint, Severity};
use xueliang_dispatcher::routing::{RouteReason, Router};
use xueliang_testkit::Rng;
use xueliang_testkit::city::{LAT0, LON0, Lattice};

const COLS: usize = 20;
const ROWS: usize = 10;
const STATION: f64 = 0.05;
const GRIDS_PER_SIDE: usize = 5;

fn city() -> (NodeConfig, Jurisdictions) {
    let lattice = Lattice::plain(COLS, ROWS, STATION, GRIDS_PER_SIDE);
    let j = lattice.jurisdictions();
    assert_eq!(
        j.areas.len(),
        ROWS * COLS * (1 + GRIDS_PER_SIDE * GRIDS_PER_SIDE)
    );
    (lattice.node(), j)
}

/// Index of the lattice cell holding `v`, or `None` when `v` is too close to a cell edge for
/// the floating-point lattice and the polygons to be sure to agree.
fn cell(v: f64, origin: f64, size: f64) -> Option<usize> {
    let f = (v - origin) / size;
    let frac = f - f.floor();
    (frac > 1e-6 && frac < 1.0 - 1e-6).then_some(f.floor() as usize)
}

#[test]
fn city_scale_routing_is_correct_for_every_camera() {
    let (node, j) = city();
    let t = Instant::now();
    let router = Router::new(&node, &j).unwrap();
    let build = t.elapsed();

    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let n = 10_000;
    let mut points = Vec::with_capacity(n);
    while points.len() < n {
        // Include a margin outside the city to exercise the fallback.
        let lon = LON0 - 0.05 + rng.unit() * (COLS as f64 * STATION + 0.1);
        let lat = LAT0 - 0.05 + rng.unit() * (ROWS as f64 * STATION + 0.1);
        let grid = STATION / GRIDS_PER_SIDE as f64;
        let inside = (LON0..LON0 + COLS as f64 * STATION).contains(&lon)
            && (LAT0..LAT0 + ROWS as f64 * STATION).contains(&lat);
        let expected = if inside {
            match (cell(lon, LON0, grid), cell(lat, LAT0, grid)) {
                (Some(gx), Some(gy)) => Some((gy, gx)),
                _ => continue,
            }
        } else {
            None
        };
        points.push((GeoPoint { lat, lon }, expected));
    }

    // Every point: the right station and grid, or the centre outside the city.
    let t = Instant::now();
    for (p, expected) in &points {
        let loc = router.locate(*p);
        match expected {
            Some((gy, gx)) => {
                let (r, c) = (gy / GRIDS_PER_SIDE, gx / GRIDS_PER_SIDE);
                let (gr, gc) = (gy % GRIDS_PER_SIDE, gx % GRIDS_PER_SIDE);
                assert_eq!(
                    loc.station.map(|a| a.id.as_str()),
                    Some(format!("st-{r}-{c}").as_str()),
                    "{p:?}"
                );
                assert_eq!(
                    loc.grid.map(|a| a.id.as_str()),
                    Some(format!("g-{r}-{c}-{gr}-{gc}").as_str()),
                    "{p:?}"
                );
            }
            None => assert!(loc.station.is_none() && loc.grid.is_none(), "{p:?}"),
        }
    }
    let locate = t.elapsed();

    // Whole decisions through the inventory path.
    let mut cams = String::new();
    for (i, (p, _)) in points.iter().take(1000).enumerate() {
        cams.push_str(&format!(
            "[[camera]]\nid = \"c{i}\"\nname = \"c{i}\"\nurl = \"rtsp://10.0.0.1/{i}\"\n\
             location = {{ lat = {}, lon = {} }}\ntier = \"police\"\n",
            p.lat, p.lon
        ));
    }
    let inv = Inventory::parse(&cams, Path::new("c.toml"), &|_| None).unwrap();
    let alerts: Vec<AlertV1> = inv
        .cameras
        .iter()
        .map(|c| {
            AlertV1::new(
                c.id.clone(),
                EventType::ZoneIntrusion,
                Severity::Major,
                "r",
                Utc::now(),
            )
        })
        .collect();
    let t = Instant::now();
    let mut outside = 0;
    for (a, c) in alerts.iter().zip(&inv.cameras) {
        let d = router.route(a, Some(c));
        let expected = points[c.id.as_str()[1..].parse::<usize>().unwrap()].1;
        match expected {
            Some((gy, gx)) => {
                let desk = format!("desk-{}-{}", gy / GRIDS_PER_SIDE, gx / GRIDS_PER_SIDE);
                assert_eq!(d.primary.as_str(), desk);
                assert_eq!(d.reason, RouteReason::Polygon);
            }
            None => {
                outside += 1;
                assert_eq!(d.primary.as_str(), "centre");
                assert_eq!(d.reason, RouteReason::OutsideAll);
            }
        }
    }
    let route = t.elapsed();
    assert!(
        outside > 0,
        "the sample should include cameras outside the city"
    );

    println!(
        "city of {} stations (400 vertices each) + {} grids: build {:?}; locate {:.1} µs/point \
         over {n} points; route {:.1} µs/alert over {} alerts",
        ROWS * COLS,
        ROWS * COLS * GRIDS_PER_SIDE * GRIDS_PER_SIDE,
        build,
        locate.as_secs_f64() * 1e6 / n as f64,
        route.as_secs_f64() * 1e6 / alerts.len() as f64,
        alerts.len(),
    );
}
