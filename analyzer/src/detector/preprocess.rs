//! Frame → network input: stretch-resize to the model size with bilinear interpolation,
//! subtract the mean, divide by the std, and write channel planes (NCHW) straight into a slot
//! of the caller's batch tensor.
//!
//! Design decisions:
//! - **OpenCV `INTER_LINEAR` semantics** (half-pixel centres, edge clamp, no anti-aliasing),
//!   because that is what the Python reference and the model's training pipeline use; a
//!   different resize shifts boxes and scores measurably.
//! - **Separable, straight into the planes.** Each source row a frame needs is resized
//!   horizontally once, into per-channel (planar) `f32` rows, keeping the last two; each output
//!   row is then a vertical blend of two such rows, normalised and stored contiguously into the
//!   three planes — a loop the compiler vectorises. Per-column tap offsets and weights depend
//!   only on the frame size, so they are computed once per size and kept ([`Resizer`]); a
//!   stream of one camera's frames never recomputes them. No intermediate image, no allocation
//!   per frame. (About 1 ms for 768×576 → 416×416 on one core, vs ~40 ms of inference.)
//! - **Normalisation folded into one multiply-add**: `(x - mean) / std = x * (1/std) - mean/std`.
//! - **A fast path** when the frame already has the network size (ingest can scale in the
//!   decoder): a straight convert-and-normalise with no interpolation.

use super::FrameRef;
use crate::model::ModelSpec;

/// Reusable pre-processor for one model input size. Keeps the resize plan of the last frame
/// size it saw.
#[derive(Debug, Clone)]
pub struct Resizer {
    out_w: usize,
    out_h: usize,
    scale: [f32; 3],
    bias: [f32; 3],
    plan: Option<Plan>,
    /// The last two horizontally resized source rows (planar B, G, R) and their row numbers.
    rows: [(usize, Vec<f32>); 2],
}

#[derive(Debug, Clone)]
struct Plan {
    src: (u32, u32),
    /// Per output column: byte offsets (within a row) of the left and right taps, and the
    /// right tap's weight.
    xs: Vec<(usize, usize, f32)>,
    /// Per output row: the two source rows and the lower row's weight.
    ys: Vec<(usize, usize, f32)>,
}

/// Source coordinates for each output index along one axis, OpenCV `INTER_LINEAR` style.
fn taps(n_out: usize, n_in: usize) -> impl Iterator<Item = (usize, usize, f32)> {
    let scale = n_in as f64 / n_out as f64;
    (0..n_out).map(move |d| {
        let s = ((d as f64 + 0.5) * scale - 0.5).clamp(0.0, (n_in - 1) as f64);
        let i0 = s.floor() as usize;
        let i1 = (i0 + 1).min(n_in - 1);
        (i0, i1, (s - i0 as f64) as f32)
    })
}

impl Resizer {
    pub fn new(spec: &ModelSpec) -> Self {
        let mut scale = [0.0; 3];
        let mut bias = [0.0; 3];
        for c in 0..3 {
            scale[c] = 1.0 / spec.std[c];
            bias[c] = -spec.mean[c] / spec.std[c];
        }
        Resizer {
            out_w: spec.input_size[0] as usize,
            out_h: spec.input_size[1] as usize,
            scale,
            bias,
            plan: None,
            rows: [(usize::MAX, Vec::new()), (usize::MAX, Vec::new())],
        }
    }

    /// Floats written per frame (`3 * H * W`).
    pub fn slot_len(&self) -> usize {
        3 * self.out_w * self.out_h
    }

    /// Writes `frame` into `out` (exactly [`slot_len`](Self::slot_len) floats) as three
    /// planes B, G, R. The frame must have passed [`FrameRef::check`].
    pub fn run(&mut self, frame: &FrameRef<'_>, out: &mut [f32]) {
        assert_eq!(out.len(), self.slot_len(), "batch slot has the wrong size");
        debug_assert!(frame.check().is_ok());
        let plane = self.out_w * self.out_h;
        let (b, rest) = out.split_at_mut(plane);
        let (g, r) = rest.split_at_mut(plane);
        if frame.width as usize == self.out_w && frame.height as usize == self.out_h {
            self.copy_same_size(frame, [b, g, r]);
        } else {
            self.resize(frame, [b, g, r]);
        }
    }

    fn copy_same_size(&self, frame: &FrameRef<'_>, [pb, pg, pr]: [&mut [f32]; 3]) {
        let w = self.out_w;
        let (s, o) = (self.scale, self.bias);
        for y in 0..self.out_h {
            let row = &frame.data[y * frame.stride..][..3 * w];
            let range = y * w..(y + 1) * w;
            let (rb, rg, rr) = (
                &mut pb[range.clone()],
                &mut pg[range.clone()],
                &mut pr[range],
            );
            for (x, px) in row.chunks_exact(3).enumerate() {
                rb[x] = px[0] as f32 * s[0] + o[0];
                rg[x] = px[1] as f32 * s[1] + o[1];
                rr[x] = px[2] as f32 * s[2] + o[2];
            }
        }
    }

    fn resize(&mut self, frame: &FrameRef<'_>, mut planes: [&mut [f32]; 3]) {
        let src = (frame.width, frame.height);
        if self.plan.as_ref().map(|p| p.src) != Some(src) {
            self.plan = Some(Plan {
                src,
                xs: taps(self.out_w, src.0 as usize)
                    .map(|(a, b, f)| (3 * a, 3 * b, f))
                    .collect(),
                ys: taps(self.out_h, src.1 as usize).collect(),
            });
        }
        let w = self.out_w;
        for r in &mut self.rows {
            r.1.resize(3 * w, 0.0);
            // A new frame: the cached rows belong to the previous one.
            r.0 = usize::MAX;
        }
        let plan = self.plan.as_ref().expect("plan was just set");
        let row_len = 3 * frame.width as usize;
        let (s, o) = (self.scale, self.bias);
        for (y, &(y0, y1, fy)) in plan.ys.iter().enumerate() {
            for want in [y0, y1] {
                if self.rows[0].0 == want || self.rows[1].0 == want {
                    continue;
                }
                // Overwrite the cached row this output row does not use.
                let slot = usize::from(self.rows[0].0 == y0 || self.rows[0].0 == y1);
                let src_row = &frame.data[want * frame.stride..][..row_len];
                let (hb, rest) = self.rows[slot].1.split_at_mut(w);
                let (hg, hr) = rest.split_at_mut(w);
                for (x, &(x0, x1, fx)) in plan.xs.iter().enumerate() {
                    // Slicing the taps once lets the compiler drop the per-channel bounds checks.
                    let (a, b) = (&src_row[x0..x0 + 3], &src_row[x1..x1 + 3]);
                    let lerp = |c: usize| {
                        let av = a[c] as f32;
                        av + (b[c] as f32 - av) * fx
                    };
                    hb[x] = lerp(0);
                    hg[x] = lerp(1);
                    hr[x] = lerp(2);
                }
                self.rows[slot].0 = want;
            }
            let ra = &self.rows[usize::from(self.rows[0].0 != y0)].1;
            let rb = &self.rows[usize::from(self.rows[0].0 != y1)].1;
            for (c, plane) in planes.iter_mut().enumerate() {
                let out = &mut plane[y * w..(y + 1) * w];
                let (a, b) = (&ra[c * w..(c + 1) * w], &rb[c * w..(c + 1) * w]);
                for ((d, a), b) in out.iter_mut().zip(a).zip(b) {
                    *d = (a + (b - a) * fy) * s[c] + o[c];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::builtin_manifest;

    fn resizer_for(w: u32, h: u32) -> Resizer {
        let mut spec = builtin_manifest("nanodet-m-416").unwrap();
        spec.input_size = [w, h];
        spec.mean = [0.0; 3];
        spec.std = [1.0; 3];
        Resizer::new(&spec)
    }

    #[test]
    fn same_size_is_a_plain_normalised_copy_in_planes() {
        let spec = builtin_manifest("nanodet-m-416").unwrap();
        let mut r = Resizer::new(&spec);
        let (w, h) = (416usize, 416usize);
        let data: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = vec![0.0; r.slot_len()];
        r.run(&FrameRef::packed(416, 416, &data), &mut out);
        let px = 1234;
        for c in 0..3 {
            let want = (data[px * 3 + c] as f32 - spec.mean[c]) / spec.std[c];
            assert!((out[c * w * h + px] - want).abs() < 1e-5);
        }
        // Same result as the general bilinear path (scale 1 samples exact pixels).
        let mut general = vec![0.0; r.slot_len()];
        let f = FrameRef::packed(416, 416, &data);
        let plane = w * h;
        let (b, rest) = general.split_at_mut(plane);
        let (g, rr) = rest.split_at_mut(plane);
        r.resize(&f, [b, g, rr]);
        let max = out
            .iter()
            .zip(&general)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-4, "fast path differs from bilinear by {max}");
    }

    /// The textbook four-tap formula, one pixel at a time (the reference's semantics).
    fn naive(data: &[u8], sw: usize, sh: usize, ow: usize, oh: usize) -> Vec<f32> {
        let coord = |d: usize, n_out: usize, n_in: usize| {
            let s =
                ((d as f64 + 0.5) * n_in as f64 / n_out as f64 - 0.5).clamp(0.0, (n_in - 1) as f64);
            let i0 = s.floor() as usize;
            (i0, (i0 + 1).min(n_in - 1), s - i0 as f64)
        };
        let mut out = vec![0.0; 3 * ow * oh];
        for y in 0..oh {
            let (y0, y1, fy) = coord(y, oh, sh);
            for x in 0..ow {
                let (x0, x1, fx) = coord(x, ow, sw);
                for c in 0..3 {
                    let p = |xx: usize, yy: usize| data[(yy * sw + xx) * 3 + c] as f64;
                    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
                    let bot = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
                    out[c * ow * oh + y * ow + x] = (top * (1.0 - fy) + bot * fy) as f32;
                }
            }
        }
        out
    }

    #[test]
    fn separable_resize_equals_the_four_tap_formula() {
        // Odd sizes both ways: down in x, up in y, and a 768x576-like downscale.
        for (sw, sh, ow, oh) in [(37, 11, 16, 23), (77, 58, 41, 41), (9, 9, 4, 17)] {
            let data: Vec<u8> = (0..sw * sh * 3).map(|i| (i * 37 % 253) as u8).collect();
            let mut r = resizer_for(ow as u32, oh as u32);
            let mut out = vec![0.0; r.slot_len()];
            r.run(&FrameRef::packed(sw as u32, sh as u32, &data), &mut out);
            let want = naive(&data, sw, sh, ow, oh);
            let max = out
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(max < 1e-3, "{sw}x{sh} -> {ow}x{oh}: max error {max}");
        }
    }

    #[test]
    fn downscale_by_two_averages_pixel_pairs() {
        // 4x2 → 2x1: half-pixel centres put each output sample midway between two columns
        // and two rows, so each output is the mean of a 2x2 block.
        let mut r = resizer_for(2, 1);
        #[rustfmt::skip]
        let data = [
            0, 0, 0,   10, 20, 30,   100, 100, 100,   200, 200, 200,
            20, 20, 20, 30, 40, 50,  100, 100, 100,   0, 0, 0,
        ];
        let mut out = vec![0.0; 6];
        r.run(&FrameRef::packed(4, 2, &data), &mut out);
        assert_eq!(out[0], (0.0 + 10.0 + 20.0 + 30.0) / 4.0); // B of output (0,0)
        assert_eq!(out[1], (100.0 + 200.0 + 100.0 + 0.0) / 4.0); // B of output (1,0)
        assert_eq!(out[2], (0.0 + 20.0 + 20.0 + 40.0) / 4.0); // G plane
        assert_eq!(out[4], (0.0 + 30.0 + 20.0 + 50.0) / 4.0); // R plane
    }

    #[test]
    fn upscale_clamps_at_the_edges() {
        // 2x1 → 4x1: outputs at source x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped).
        let mut r = resizer_for(4, 1);
        let data = [0u8, 0, 0, 100, 100, 100];
        let mut out = vec![0.0; 12];
        r.run(&FrameRef::packed(2, 1, &data), &mut out);
        assert_eq!(&out[..4], &[0.0, 25.0, 75.0, 100.0]);
    }

    #[test]
    fn honours_the_row_stride() {
        let mut r = resizer_for(1, 2);
        // 1x2 frame with 2 bytes of padding per row.
        let data = [10u8, 20, 30, 99, 99, 40, 50, 60];
        let f = FrameRef {
            width: 1,
            height: 2,
            stride: 5,
            data: &data,
        };
        f.check().unwrap();
        let mut out = vec![0.0; 6];
        r.run(&f, &mut out);
        assert_eq!(out, [10.0, 40.0, 20.0, 50.0, 30.0, 60.0]);
    }
}
