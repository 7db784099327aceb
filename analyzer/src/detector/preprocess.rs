//! Picture → network input: stretch-resize to the model size with bilinear interpolation,
//! convert YUV to BGR when the picture comes straight from a decoder, subtract the mean,
//! divide by the std, and write channel planes (NCHW) straight into a slot of the caller's
//! batch tensor.
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
//! - **YUV in, colour conversion fused.** Decoders emit I420 (software) or NV12 (NVIDIA) at the
//!   camera's resolution. The Y plane and the half-size chroma planes are each resampled
//!   horizontally into cached `f32` rows (chroma on its own grid), blended vertically, and only
//!   then put through the YUV→BGR matrix, clamped and normalised — one pass per output pixel.
//!   Both steps are linear, so converting after interpolating equals converting first (except
//!   where clamping bites, i.e. out-of-gamut colours). This replaces a `videoscale` +
//!   `videoconvert` in the decoder pipeline that wrote a BGR picture only for this loop to read
//!   it again (see `xueliang_core::picture`).
//! - **A fast path** when a BGR frame already has the network size: a straight
//!   convert-and-normalise with no interpolation.

use super::PictureRef;
use crate::model::ModelSpec;
use xueliang_core::picture::{Pixels, Plane, YuvToRgb};

/// Reusable pre-processor for one model input size. Keeps the resize plan of the last frame
/// size it saw.
#[derive(Debug, Clone)]
pub struct Resizer {
    out_w: usize,
    out_h: usize,
    scale: [f32; 3],
    bias: [f32; 3],
    plan: Option<Plan>,
    /// Horizontally resized source rows: planar B, G, R for BGR input, else luma.
    rows: RowCache,
    /// Horizontally resized chroma rows (U and V side by side), for YUV input.
    chroma: RowCache,
}

#[derive(Debug, Clone, PartialEq)]
struct Plan {
    src: (u32, u32),
    /// Per output column: source column indices of the left and right taps, and the right
    /// tap's weight (full-resolution grid).
    xs: Vec<(usize, usize, f32)>,
    /// Per output row: the two source rows and the lower row's weight.
    ys: Vec<(usize, usize, f32)>,
    /// The same on the chroma grid (half width and height, rounded up).
    cxs: Vec<(usize, usize, f32)>,
    cys: Vec<(usize, usize, f32)>,
}

/// The last two horizontally resized rows of one plane, by source row number.
#[derive(Debug, Clone)]
struct RowCache {
    rows: [(usize, Vec<f32>); 2],
}

impl RowCache {
    fn new() -> Self {
        RowCache {
            rows: [(usize::MAX, Vec::new()), (usize::MAX, Vec::new())],
        }
    }

    /// Forgets the cached rows: a new picture.
    fn reset(&mut self, len: usize) {
        for r in &mut self.rows {
            r.1.resize(len, 0.0);
            r.0 = usize::MAX;
        }
    }

    /// Makes rows `a` and `b` present, filling missing ones with `fill(row, out)`, and returns
    /// them. Overwrites only a cached row that neither needs.
    fn pair(
        &mut self,
        a: usize,
        b: usize,
        mut fill: impl FnMut(usize, &mut [f32]),
    ) -> (&[f32], &[f32]) {
        for want in [a, b] {
            if self.rows[0].0 == want || self.rows[1].0 == want {
                continue;
            }
            let slot = usize::from(self.rows[0].0 == a || self.rows[0].0 == b);
            fill(want, &mut self.rows[slot].1);
            self.rows[slot].0 = want;
        }
        let at = |r: usize| usize::from(self.rows[0].0 != r);
        (&self.rows[at(a)].1, &self.rows[at(b)].1)
    }
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

/// One horizontally resampled row of a single-channel plane (`step` bytes between samples,
/// starting at `offset`: 1/0 for Y and I420 chroma, 2/0 and 2/1 for NV12's U and V).
#[inline]
fn resample_row(
    src: &[u8],
    xs: &[(usize, usize, f32)],
    step: usize,
    offset: usize,
    out: &mut [f32],
) {
    for (o, &(x0, x1, fx)) in out.iter_mut().zip(xs) {
        let a = f32::from(src[x0 * step + offset]);
        let b = f32::from(src[x1 * step + offset]);
        *o = a + (b - a) * fx;
    }
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
            rows: RowCache::new(),
            chroma: RowCache::new(),
        }
    }

    /// Floats written per frame (`3 * H * W`).
    pub fn slot_len(&self) -> usize {
        3 * self.out_w * self.out_h
    }

    /// Writes `frame` into `out` (exactly [`slot_len`](Self::slot_len) floats) as three
    /// planes B, G, R. The frame must have passed [`PictureRef::check`].
    pub fn run(&mut self, frame: &PictureRef<'_>, out: &mut [f32]) {
        assert_eq!(out.len(), self.slot_len(), "batch slot has the wrong size");
        debug_assert!(frame.check().is_ok());
        let plane = self.out_w * self.out_h;
        let (b, rest) = out.split_at_mut(plane);
        let (g, r) = rest.split_at_mut(plane);
        self.plan_for(frame);
        match frame.pixels {
            Pixels::Bgr(p)
                if frame.width as usize == self.out_w && frame.height as usize == self.out_h =>
            {
                self.copy_same_size(p, [b, g, r])
            }
            Pixels::Bgr(p) => self.resize_bgr(frame.width as usize, p, [b, g, r]),
            Pixels::I420 {
                y,
                u,
                v,
                colorimetry,
            } => self.resize_yuv(
                y,
                Chroma::Planar(u, v),
                colorimetry.to_rgb(),
                frame,
                [b, g, r],
            ),
            Pixels::Nv12 { y, uv, colorimetry } => self.resize_yuv(
                y,
                Chroma::Interleaved(uv),
                colorimetry.to_rgb(),
                frame,
                [b, g, r],
            ),
        }
    }

    fn plan_for(&mut self, frame: &PictureRef<'_>) {
        let src = (frame.width, frame.height);
        if self.plan.as_ref().map(|p| p.src) == Some(src) {
            return;
        }
        let (cw, ch) = frame.chroma_size();
        self.plan = Some(Plan {
            src,
            xs: taps(self.out_w, src.0 as usize).collect(),
            ys: taps(self.out_h, src.1 as usize).collect(),
            cxs: taps(self.out_w, cw).collect(),
            cys: taps(self.out_h, ch).collect(),
        });
    }

    fn copy_same_size(&self, p: Plane<'_>, [pb, pg, pr]: [&mut [f32]; 3]) {
        let w = self.out_w;
        let (s, o) = (self.scale, self.bias);
        for y in 0..self.out_h {
            let row = p.row(y, 3 * w);
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

    fn resize_bgr(&mut self, width: usize, p: Plane<'_>, mut planes: [&mut [f32]; 3]) {
        let w = self.out_w;
        self.rows.reset(3 * w);
        let plan = self.plan.as_ref().expect("plan_for ran");
        let row_len = 3 * width;
        let (s, o) = (self.scale, self.bias);
        for (y, &(y0, y1, fy)) in plan.ys.iter().enumerate() {
            let (ra, rb) = self.rows.pair(y0, y1, |want, row| {
                let src_row = p.row(want, row_len);
                let (hb, rest) = row.split_at_mut(w);
                let (hg, hr) = rest.split_at_mut(w);
                for (x, &(x0, x1, fx)) in plan.xs.iter().enumerate() {
                    // Slicing the taps once lets the compiler drop the per-channel bounds checks.
                    let (a, b) = (&src_row[3 * x0..3 * x0 + 3], &src_row[3 * x1..3 * x1 + 3]);
                    let lerp = |c: usize| {
                        let av = a[c] as f32;
                        av + (b[c] as f32 - av) * fx
                    };
                    hb[x] = lerp(0);
                    hg[x] = lerp(1);
                    hr[x] = lerp(2);
                }
            });
            for (c, plane) in planes.iter_mut().enumerate() {
                let out = &mut plane[y * w..(y + 1) * w];
                let (a, b) = (&ra[c * w..(c + 1) * w], &rb[c * w..(c + 1) * w]);
                for ((d, a), b) in out.iter_mut().zip(a).zip(b) {
                    *d = (a + (b - a) * fy) * s[c] + o[c];
                }
            }
        }
    }

    fn resize_yuv(
        &mut self,
        luma: Plane<'_>,
        chroma: Chroma<'_>,
        m: YuvToRgb,
        frame: &PictureRef<'_>,
        [pb, pg, pr]: [&mut [f32]; 3],
    ) {
        let w = self.out_w;
        self.rows.reset(w);
        self.chroma.reset(2 * w);
        let plan = self.plan.as_ref().expect("plan_for ran");
        let (width, cw) = (frame.width as usize, frame.chroma_size().0);
        let (s, o) = (self.scale, self.bias);
        for (y, (&(y0, y1, fy), &(c0, c1, fc))) in plan.ys.iter().zip(&plan.cys).enumerate() {
            let (la, lb) = self.rows.pair(y0, y1, |want, row| {
                resample_row(luma.row(want, width), &plan.xs, 1, 0, row)
            });
            let (ca, cb) = self.chroma.pair(c0, c1, |want, row| {
                let (u, v) = row.split_at_mut(w);
                match chroma {
                    Chroma::Planar(pu, pv) => {
                        resample_row(pu.row(want, cw), &plan.cxs, 1, 0, u);
                        resample_row(pv.row(want, cw), &plan.cxs, 1, 0, v);
                    }
                    Chroma::Interleaved(puv) => {
                        let src = puv.row(want, 2 * cw);
                        resample_row(src, &plan.cxs, 2, 0, u);
                        resample_row(src, &plan.cxs, 2, 1, v);
                    }
                }
            });
            let range = y * w..(y + 1) * w;
            let (ob, og, or) = (
                &mut pb[range.clone()],
                &mut pg[range.clone()],
                &mut pr[range],
            );
            let (ua, va) = ca.split_at(w);
            let (ub, vb) = cb.split_at(w);
            for x in 0..w {
                let l = la[x] + (lb[x] - la[x]) * fy;
                let u = ua[x] + (ub[x] - ua[x]) * fc - 128.0;
                let v = va[x] + (vb[x] - va[x]) * fc - 128.0;
                let yy = (l - m.y0) * m.y;
                let r = (yy + m.rv * v).clamp(0.0, 255.0);
                let g = (yy - m.gu * u - m.gv * v).clamp(0.0, 255.0);
                let b = (yy + m.bu * u).clamp(0.0, 255.0);
                ob[x] = b * s[0] + o[0];
                og[x] = g * s[1] + o[1];
                or[x] = r * s[2] + o[2];
            }
        }
    }
}

/// Where a YUV picture's chroma is.
#[derive(Clone, Copy)]
enum Chroma<'a> {
    /// I420: separate U and V planes.
    Planar(Plane<'a>, Plane<'a>),
    /// NV12: one plane of U, V pairs.
    Interleaved(Plane<'a>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::builtin_manifest;
    use xueliang_core::picture::Colorimetry;

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
        r.run(&PictureRef::bgr(416, 416, &data), &mut out);
        let px = 1234;
        for c in 0..3 {
            let want = (data[px * 3 + c] as f32 - spec.mean[c]) / spec.std[c];
            assert!((out[c * w * h + px] - want).abs() < 1e-5);
        }
        // Same result as the general bilinear path (scale 1 samples exact pixels).
        let mut general = vec![0.0; r.slot_len()];
        let f = PictureRef::bgr(416, 416, &data);
        let plane = w * h;
        let (b, rest) = general.split_at_mut(plane);
        let (g, rr) = rest.split_at_mut(plane);
        r.plan_for(&f);
        let Pixels::Bgr(p) = f.pixels else {
            unreachable!()
        };
        r.resize_bgr(416, p, [b, g, rr]);
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
            r.run(&PictureRef::bgr(sw as u32, sh as u32, &data), &mut out);
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
        r.run(&PictureRef::bgr(4, 2, &data), &mut out);
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
        r.run(&PictureRef::bgr(2, 1, &data), &mut out);
        assert_eq!(&out[..4], &[0.0, 25.0, 75.0, 100.0]);
    }

    #[test]
    fn honours_the_row_stride() {
        let mut r = resizer_for(1, 2);
        // 1x2 frame with 2 bytes of padding per row.
        let data = [10u8, 20, 30, 99, 99, 40, 50, 60];
        let f = PictureRef {
            width: 1,
            height: 2,
            pixels: Pixels::Bgr(Plane {
                data: &data,
                stride: 5,
            }),
        };
        f.check().unwrap();
        let mut out = vec![0.0; 6];
        r.run(&f, &mut out);
        assert_eq!(out, [10.0, 40.0, 20.0, 50.0, 30.0, 60.0]);
    }

    /// BGR → I420 the textbook way (BT.601 limited range, chroma averaged over 2x2 blocks),
    /// planes padded to `pad` extra bytes per row to exercise strides.
    fn to_i420(
        bgr: &[u8],
        w: usize,
        h: usize,
        pad: usize,
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>, [usize; 2]) {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (ys, cs) = (w + pad, cw + pad);
        let (mut y, mut u, mut v) = (vec![0u8; ys * h], vec![0u8; cs * ch], vec![0u8; cs * ch]);
        let px = |x: usize, yy: usize| {
            let p = &bgr[(yy * w + x) * 3..][..3];
            (p[2] as f64, p[1] as f64, p[0] as f64)
        };
        for yy in 0..h {
            for x in 0..w {
                let (r, g, b) = px(x, yy);
                y[yy * ys + x] = (16.0 + 0.257 * r + 0.504 * g + 0.098 * b).round() as u8;
            }
        }
        for cy in 0..ch {
            for cx in 0..cw {
                let (mut su, mut sv, mut n) = (0.0, 0.0, 0.0);
                for (x, yy) in [
                    (2 * cx, 2 * cy),
                    (2 * cx + 1, 2 * cy),
                    (2 * cx, 2 * cy + 1),
                    (2 * cx + 1, 2 * cy + 1),
                ] {
                    if x < w && yy < h {
                        let (r, g, b) = px(x, yy);
                        su += 128.0 - 0.148 * r - 0.291 * g + 0.439 * b;
                        sv += 128.0 + 0.439 * r - 0.368 * g - 0.071 * b;
                        n += 1.0;
                    }
                }
                u[cy * cs + cx] = (su / n).round() as u8;
                v[cy * cs + cx] = (sv / n).round() as u8;
            }
        }
        (y, u, v, [ys, cs])
    }

    fn i420<'a>(
        w: u32,
        h: u32,
        y: &'a [u8],
        u: &'a [u8],
        v: &'a [u8],
        s: [usize; 2],
    ) -> PictureRef<'a> {
        PictureRef {
            width: w,
            height: h,
            pixels: Pixels::I420 {
                y: Plane {
                    data: y,
                    stride: s[0],
                },
                u: Plane {
                    data: u,
                    stride: s[1],
                },
                v: Plane {
                    data: v,
                    stride: s[1],
                },
                colorimetry: Colorimetry::default(),
            },
        }
    }

    #[test]
    fn flat_yuv_colours_convert_to_their_bgr() {
        // BT.601 limited-range codes of pure red, green, blue, white and black.
        for (yuv, bgr) in [
            ([81u8, 90, 240], [0.0, 0.0, 255.0]),
            ([145, 54, 34], [0.0, 255.0, 0.0]),
            ([41, 240, 110], [255.0, 0.0, 0.0]),
            ([235, 128, 128], [255.0, 255.0, 255.0]),
            ([16, 128, 128], [0.0, 0.0, 0.0]),
        ] {
            let (w, h) = (6usize, 4usize);
            let (y, u, v) = (
                vec![yuv[0]; w * h],
                vec![yuv[1]; 3 * 2],
                vec![yuv[2]; 3 * 2],
            );
            let mut r = resizer_for(3, 5);
            let mut out = vec![0.0; r.slot_len()];
            r.run(&i420(w as u32, h as u32, &y, &u, &v, [w, 3]), &mut out);
            for (c, want) in bgr.iter().enumerate() {
                let plane = &out[c * 15..(c + 1) * 15];
                assert!(
                    plane.iter().all(|got| (got - want).abs() < 3.0),
                    "{yuv:?}: channel {c} = {plane:?}, want {want}"
                );
            }
        }
    }

    #[test]
    fn yuv_resize_matches_converting_then_resizing() {
        // A smooth picture (chroma siting then matters little): the fused path must agree with
        // "convert to full-size BGR, then the reference resize" to within a few levels.
        let (w, h) = (64usize, 36usize);
        let bgr: Vec<u8> = (0..h)
            .flat_map(|y| {
                (0..w).flat_map(move |x| [(x * 4) as u8, (y * 7) as u8, (128 + x * 2 - y) as u8])
            })
            .collect();
        let (y, u, v, strides) = to_i420(&bgr, w, h, 7);
        for (ow, oh) in [(41, 41), (80, 50), (64, 36)] {
            let mut r = resizer_for(ow as u32, oh as u32);
            let mut out = vec![0.0; r.slot_len()];
            r.run(&i420(w as u32, h as u32, &y, &u, &v, strides), &mut out);
            let want = naive(&bgr, w, h, ow, oh);
            let worst = out
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 6.0,
                "{w}x{h} -> {ow}x{oh}: worst difference {worst}"
            );
        }
    }

    #[test]
    fn nv12_equals_i420() {
        let (w, h) = (10usize, 6usize);
        let bgr: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let (y, u, v, [ys, cs]) = to_i420(&bgr, w, h, 0);
        let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(a, b)| [*a, *b]).collect();
        let nv12 = PictureRef {
            width: w as u32,
            height: h as u32,
            pixels: Pixels::Nv12 {
                y: Plane {
                    data: &y,
                    stride: ys,
                },
                uv: Plane {
                    data: &uv,
                    stride: 2 * cs,
                },
                colorimetry: Colorimetry::default(),
            },
        };
        nv12.check().unwrap();
        let mut r = resizer_for(7, 9);
        let (mut a, mut b) = (vec![0.0; r.slot_len()], vec![0.0; r.slot_len()]);
        r.run(&i420(w as u32, h as u32, &y, &u, &v, [ys, cs]), &mut a);
        r.run(&nv12, &mut b);
        assert_eq!(a, b);
    }
}
