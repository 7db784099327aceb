//! Synthetic, deterministic inputs for the criterion micro-benchmarks of xueliang's hot paths
//! (`benches/analyzer.rs`, `benches/routing.rs`). The routing benchmark's city is
//! `xueliang_testkit::city` (the dispatcher's routing tests use the same one); this crate tests
//! it as a benchmark input below.
//!
//! Design decisions:
//! - **Realistic shapes, not real data.** Each fixture reproduces what the stage sees in
//!   production — a 768×576 BGR frame, NanoDet-m 416's three-level GFL head output, a street of
//!   ~20 moving people and vehicles sampled at 2 fps, a camera with six rules, a city of a few
//!   hundred station polygons with holes, enclaves and MultiPolygons plus 10,000 cameras — so
//!   the timings say something about the real pipeline, without shipping video or a model.
//! - **Deterministic.** Everything comes from a seeded xorshift generator: two runs benchmark
//!   the same work, and a regression is the code's, not the input's.
//! - **The fixtures are tested** (unit tests below): a benchmark on a degenerate input (NMS with
//!   nothing to suppress, a tracker that never matches, rules that never see anyone in a zone,
//!   routing that always falls back to the centre) would measure the wrong thing quietly.
//! - Built through the public API only (config parsed from TOML/GeoJSON text, the model's
//!   compiled-in manifest), so the fixtures follow the real validation rules.

pub mod head;
pub mod scene;

/// The fixtures' deterministic generator (xorshift64*, no `rand`), shared with the test tooling.
pub use xueliang_testkit::Rng;

/// An I420 frame as a decoder hands it over (gradient plus noise in Y, smooth chroma), with
/// rows padded to a 32-byte stride like libav's.
pub fn i420_frame(w: u32, h: u32, seed: u64) -> xueliang_core::picture::Picture {
    use xueliang_core::picture::{Colorimetry, Picture};
    let mut rng = Rng::new(seed);
    let (w, h) = (w as usize, h as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (ys, cs) = (w.next_multiple_of(32), cw.next_multiple_of(32));
    let mut y = vec![0u8; ys * h];
    for row in 0..h {
        for x in 0..w {
            let base = 16 + (x * 219 / w.max(1) + row * 219 / h.max(1)) / 2;
            y[row * ys + x] = (base as f64 + rng.range(-8.0, 8.0)).clamp(16.0, 235.0) as u8;
        }
    }
    let chroma = |phase: usize| -> Vec<u8> {
        let mut p = vec![0u8; cs * ch];
        for row in 0..ch {
            for x in 0..cw {
                p[row * cs + x] = (64 + (x * 3 + row * 2 + phase) % 128) as u8;
            }
        }
        p
    };
    Picture::i420(
        w as u32,
        h as u32,
        [
            (y.into(), ys),
            (chroma(0).into(), cs),
            (chroma(40).into(), cs),
        ],
        Colorimetry::default(),
    )
}

/// A packed BGR24 frame (`3 * w * h` bytes) with a gradient plus noise: the resize does no
/// data-dependent work, but a constant frame would invite the optimiser to cheat.
pub fn bgr_frame(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let (w, h) = (w as usize, h as usize);
    let mut data = Vec::with_capacity(3 * w * h);
    for y in 0..h {
        for x in 0..w {
            let base = (x * 255 / w.max(1) + y * 255 / h.max(1)) / 2;
            for c in 0..3 {
                let noise = (rng.unit() * 24.0) as usize;
                data.push(((base + noise + c * 40) % 256) as u8);
            }
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_the_packed_size_and_varies() {
        let f = bgr_frame(768, 576, 1);
        assert_eq!(f.len(), 768 * 576 * 3);
        assert!(f.iter().any(|&v| v != f[0]));
    }

    /// The routing benchmark's city: every odd shape is honoured, and the cameras' alerts take
    /// every kind of route (a benchmark that always fell back to the centre would measure the
    /// wrong thing quietly).
    #[test]
    fn city_shapes_are_honoured_and_cameras_route_to_stations() {
        use xueliang_core::contract::GeoPoint;
        use xueliang_dispatcher::routing::{RouteReason, Router};
        use xueliang_testkit::city::{Lattice, city};

        let (cols, rows) = (10, 5);
        let lattice = Lattice::odd(cols, rows);
        let city = city(cols, rows, 2000, 5);
        let router = Router::new(&city.node, &city.jurisdictions).unwrap();
        let station = |lon: f64, lat: f64| {
            router
                .locate(GeoPoint { lat, lon })
                .station
                .map(|a| a.id.clone())
        };
        let side = lattice.station;
        for r in 0..rows {
            for c in 0..cols {
                let index = r * cols + c;
                let (x0, y0) = lattice.origin(r, c);
                // Off-centre (clear of the hole) and clear of the seam.
                let p = (x0 + 0.2 * side, y0 + 0.2 * side);
                assert_eq!(station(p.0, p.1), Some(format!("st-{r}-{c}")));
                let mid = (x0 + side / 2.0 + 1e-4, y0 + side / 2.0 + 1e-4);
                let want = if lattice.has_hole(index) {
                    format!("en-{r}-{c}")
                } else {
                    format!("st-{r}-{c}")
                };
                assert_eq!(station(mid.0, mid.1), Some(want), "station {index}");
                if lattice.has_island(index) {
                    let (ix, iy) = lattice.island_origin(r, c);
                    let half = lattice.island() / 2.0;
                    assert_eq!(station(ix + half, iy + half), Some(format!("st-{r}-{c}")));
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
