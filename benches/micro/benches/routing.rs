//! Criterion micro-benchmarks of the dispatcher's routing: `Router::route` (R-tree lookup,
//! point-in-polygon over station outlines with holes and MultiPolygons, grid lookup, route-tree
//! walk, desk resolution) and `Router::locate` alone, for 10,000 cameras over a synthetic city
//! of 20 × 15 stations (`xueliang_testkit::city`). Each iteration routes the next
//! camera's alert, cycling through all of them, so the figure is an average over the city
//! (inside stations, in enclaves, on MultiPolygon halves, outside everything).
//!
//! Also `build`: `Router::new` for that city (R-tree bulk load and areas), a start-up cost
//! rather than a per-alert one.
//!
//! Run: `cargo bench -p xueliang-microbench --bench routing`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use xueliang_dispatcher::routing::Router;
use xueliang_testkit::city::{City, city};

const COLS: usize = 20;
const ROWS: usize = 15;
const CAMERAS: usize = 10_000;

fn routing(c: &mut Criterion) {
    let city: City = city(COLS, ROWS, CAMERAS, 11);
    let router = Router::new(&city.node, &city.jurisdictions).expect("the bench city is valid");
    eprintln!(
        "routing: {} station areas (400-vertex outlines, holes, enclaves, MultiPolygons), \
         {} areas in all, {} cameras",
        city.stations,
        city.jurisdictions.areas.len(),
        city.cameras.len()
    );
    let n = city.cameras.len();
    let mut g = c.benchmark_group("routing");
    let mut i = 0;
    g.bench_function("route_10k_cameras", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            router.route(black_box(&city.alerts[i]), Some(&city.cameras[i]))
        })
    });
    let mut i = 0;
    g.bench_function("locate_10k_cameras", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            let loc = router.locate(black_box(city.cameras[i].location));
            (loc.station.is_some(), loc.grid.is_some())
        })
    });
    g.finish();

    // ~10 ms per build: ten samples keep the run short.
    let mut g = c.benchmark_group("routing_build");
    g.sample_size(10);
    g.bench_function("router_new_300_stations", |b| {
        b.iter(|| Router::new(black_box(&city.node), black_box(&city.jurisdictions)))
    });
    g.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
