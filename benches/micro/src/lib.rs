//! Synthetic, deterministic inputs for the criterion micro-benchmarks of xueliang's hot paths
//! (`benches/analyzer.rs`, `benches/routing.rs`).
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

pub mod city;
pub mod head;
pub mod scene;

/// xorshift64*: a tiny deterministic generator, so the fixtures need no `rand`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // A zero state would stay zero forever.
        Rng(seed.max(1))
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n - 1)
    }
}

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
    fn rng_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            let v = a.unit();
            assert_eq!(v, b.unit());
            assert!((0.0..1.0).contains(&v));
        }
        assert!((0..1000).all(|_| a.below(3) < 3));
    }

    #[test]
    fn frame_has_the_packed_size_and_varies() {
        let f = bgr_frame(768, 576, 1);
        assert_eq!(f.len(), 768 * 576 * 3);
        assert!(f.iter().any(|&v| v != f[0]));
    }
}
