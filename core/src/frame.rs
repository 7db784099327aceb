//! The frame ingest hands the analyzer: one decoded, sampled picture of one camera, beside the
//! [`Picture`] it carries. One type from the decoder to the rules, so nothing is converted
//! or copied on the way.
//!
//! Design decisions:
//! - **Pixels as the decoder made them.** [`Frame::picture`] is the decoder's output buffer
//!   (I420 from libav, NV12 from NVIDIA), mapped once and shared without a copy, at the camera's
//!   resolution. Scaling to the model's size and converting to BGR happen in the detector's
//!   pre-processor, fused with the normalisation it does anyway (`xueliang_core::picture`);
//!   a `videoscale` + `videoconvert` here used to cost as much again as decoding a 360p keyframe.
//! - **The full-size picture rides along for free.** Evidence snapshots need the source
//!   resolution in BGR: [`Frame::evidence`] keeps a reference to the decoder's buffer
//!   (refcounted, no copy) and converts it only for the rare frame that becomes evidence. The price is memory: a queued frame pins one source-size YUV buffer
//!   (1.5 bytes/pixel, 3 MB at 1080p), bounded by the frame queue; a decoder configured with a
//!   fixed output size (`OutputSize::Fixed`) trades that for a scale on the decoder thread.
//! - **Two clocks.** `pts` is stream time (monotonic within one RTSP session) and
//!   `received_at` a local [`Instant`] for lag; `captured_at` is wall-clock time of capture taken
//!   from the camera's RTCP sender reports when they are plausible, else the receive time
//!   ([`CaptureClock`] says which).
//! - **Cheap health signals per frame** ([`LumaStats`]): mean, variance and an 8×8 luma thumbnail
//!   computed on a sparse grid of the luma plane, so camera-health rules (video loss,
//!   frozen picture, covered lens) need not touch pixels again.

use std::fmt;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::CameraId;
use crate::picture::{Picture, PictureRef, Pixels};
use chrono::{DateTime, Utc};

fn step_x(w: usize) -> usize {
    w.div_ceil(GRID.0).max(1)
}

/// Where [`Frame::captured_at`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureClock {
    /// The camera's RTCP sender report mapped the RTP timestamp to its NTP clock.
    SenderReport,
    /// No plausible sender report: the time ingest received the frame.
    Receive,
}

/// Luma is sampled on a grid of at most this many columns and rows, whatever the resolution:
/// plenty for a mean, a variance and an 8×8 thumbnail, and a fixed cost per frame (about
/// 9,000 samples) instead of one growing with the camera's resolution.
const GRID: (usize, usize) = (128, 72);

/// Luma statistics of a frame, for camera-health rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LumaStats {
    /// Mean luma, 0–255 (BT.601 weights).
    pub mean: f32,
    /// Variance of luma over the sample grid; near zero for a black, grey or covered picture.
    pub variance: f32,
    /// Mean luma of each cell of an 8×8 grid (row-major): compare two frames' thumbnails to tell
    /// a frozen picture from a live one without keeping whole frames.
    pub thumbnail: [u8; 64],
}

impl LumaStats {
    /// Computes the statistics on packed BGR pixels.
    pub fn from_bgr(data: &[u8], width: u32, height: u32) -> LumaStats {
        let p = PictureRef::bgr(width, height, data);
        if p.check().is_err() {
            return Self::from_samples(0, 0, |_, _| {});
        }
        Self::from_picture(&p)
    }

    /// Computes the statistics on any checked picture: BGR through BT.601 weights, YUV straight
    /// from its luma plane (scaled to full range, so thresholds mean the same either way).
    pub fn from_picture(p: &PictureRef<'_>) -> LumaStats {
        let (w, h) = (p.width as usize, p.height as usize);
        match p.pixels {
            Pixels::Bgr(plane) => Self::from_samples(w, h, |y, out| {
                let row = plane.row(y, 3 * w);
                for (o, px) in out.iter_mut().zip(row.chunks_exact(3).step_by(step_x(w))) {
                    // BT.601: Y = 0.114 B + 0.587 G + 0.299 R, in 8.8 fixed point.
                    *o = (29 * u32::from(px[0]) + 150 * u32::from(px[1]) + 77 * u32::from(px[2]))
                        >> 8;
                }
            }),
            Pixels::I420 { y, colorimetry, .. } | Pixels::Nv12 { y, colorimetry, .. } => {
                let table = colorimetry.luma_table();
                Self::from_samples(w, h, |row, out| {
                    for (o, &v) in out.iter_mut().zip(y.row(row, w).iter().step_by(step_x(w))) {
                        *o = u32::from(table[usize::from(v)]);
                    }
                })
            }
        }
    }

    /// Samples the [`GRID`]; `row(y, out)` writes the samples of row `y` (luma 0–255, every
    /// `step_x(w)`th pixel) into `out`.
    fn from_samples(w: usize, h: usize, mut row: impl FnMut(usize, &mut [u32])) -> LumaStats {
        let mut cell_sum = [0u32; 64];
        let mut cell_n = [0u32; 64];
        let (mut sum, mut sum_sq, mut n) = (0u64, 0u64, 0u64);
        let cols: Vec<usize> = (0..w).step_by(step_x(w)).map(|x| x * 8 / w).collect();
        let mut samples = vec![0u32; cols.len()];
        for y in (0..h).step_by(h.div_ceil(GRID.1).max(1)) {
            row(y, &mut samples);
            let cy = y * 8 / h;
            for (&l, &cx) in samples.iter().zip(&cols) {
                sum += u64::from(l);
                sum_sq += u64::from(l * l);
                n += 1;
                cell_sum[cy * 8 + cx] += l;
                cell_n[cy * 8 + cx] += 1;
            }
        }
        let mut thumbnail = [0u8; 64];
        for (t, (s, c)) in thumbnail.iter_mut().zip(cell_sum.iter().zip(cell_n)) {
            *t = s.checked_div(c).unwrap_or(0) as u8;
        }
        if n == 0 {
            return LumaStats {
                mean: 0.0,
                variance: 0.0,
                thumbnail,
            };
        }
        let mean = sum as f64 / n as f64;
        let variance = (sum_sq as f64 / n as f64 - mean * mean).max(0.0);
        LumaStats {
            mean: mean as f32,
            variance: variance as f32,
            thumbnail,
        }
    }

    /// Mean absolute difference of two thumbnails (0–255): near 0 for a frozen picture.
    pub fn thumbnail_difference(&self, other: &LumaStats) -> f32 {
        let total: u32 = self
            .thumbnail
            .iter()
            .zip(other.thumbnail.iter())
            .map(|(a, b)| u32::from(a.abs_diff(*b)))
            .sum();
        total as f32 / 64.0
    }
}

/// Where a full-resolution picture for evidence can be had, lazily: converting a 1080p frame
/// costs milliseconds, so it happens only for the frames that raise an alert. Ingest
/// implements it over the decoder's own buffer.
pub trait EvidenceSource: Send + Sync {
    /// Packed BGR and its size, or `None` if unavailable.
    fn bgr(&self) -> Option<(u32, u32, Vec<u8>)>;
}

/// One decoded, sampled picture of one camera.
#[derive(Clone)]
pub struct Frame {
    pub camera: CameraId,
    /// Per-camera count of frames emitted by the decoder, across reconnects; a gap at the
    /// analyzer means frames were dropped on the way (queue full).
    pub seq: u64,
    /// Stream time (RTP timestamp since the start of the RTSP session).
    pub pts: Duration,
    /// Wall-clock capture time; see [`Frame::capture_clock`].
    pub captured_at: DateTime<Utc>,
    pub capture_clock: CaptureClock,
    /// When the encoded frame arrived from the network.
    pub received_at: Instant,
    /// When the decoder finished this frame (so `decoded_at - received_at` is the ingest lag).
    pub decoded_at: Instant,
    /// Whether the encoded frame was a random-access point (IDR).
    pub keyframe: bool,
    /// The decoded picture, sharing the decoder's buffer: I420 from libav, NV12 from NVIDIA,
    /// at the camera's resolution unless the decoder was asked to scale.
    pub picture: Picture,
    /// The stream's resolution, to scale boxes back to source pixels.
    pub source_size: (u32, u32),
    pub luma: LumaStats,
    /// The full-size decoder output (the same buffer as `picture` unless the decoder scales),
    /// if the decoder was asked to keep it.
    pub evidence: Option<Arc<dyn EvidenceSource>>,
}

// Frames cross from decoder threads to the analyzer's threads.
const _: fn() = || {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Frame>();
};

impl Frame {
    /// Receive-to-decode latency of this frame.
    pub fn ingest_lag(&self) -> Duration {
        self.decoded_at.saturating_duration_since(self.received_at)
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("camera", &self.camera)
            .field("seq", &self.seq)
            .field("pts", &self.pts)
            .field("captured_at", &self.captured_at)
            .field("capture_clock", &self.capture_clock)
            .field("keyframe", &self.keyframe)
            .field("picture", &self.picture)
            .field("source_size", &self.source_size)
            .field("luma_mean", &self.luma.mean)
            .field("evidence", &self.evidence.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_of_flat_and_split_pictures() {
        let (w, h) = (64u32, 32u32);
        let grey = vec![128u8; (w * h * 3) as usize];
        let s = LumaStats::from_bgr(&grey, w, h);
        assert!((s.mean - 127.0).abs() < 1.5, "{}", s.mean);
        assert!(s.variance < 0.01);
        assert!(s.thumbnail.iter().all(|&t| t.abs_diff(127) <= 1));

        // Left half black, right half white.
        let mut split = vec![0u8; (w * h * 3) as usize];
        for y in 0..h as usize {
            for x in (w as usize / 2)..w as usize {
                let i = (y * w as usize + x) * 3;
                split[i..i + 3].copy_from_slice(&[255, 255, 255]);
            }
        }
        let t = LumaStats::from_bgr(&split, w, h);
        assert!((t.mean - 127.5).abs() < 2.0, "{}", t.mean);
        assert!(t.variance > 16_000.0, "{}", t.variance);
        assert_eq!(t.thumbnail[0], 0);
        assert_eq!(t.thumbnail[7], 255);
        assert!(t.thumbnail_difference(&s) > 100.0);
        assert_eq!(s.thumbnail_difference(&s), 0.0);
    }

    #[test]
    fn luma_of_yuv_comes_from_the_y_plane_in_full_range() {
        use crate::picture::Colorimetry;
        use bytes::Bytes;
        // 64x32 I420 with 8 bytes of row padding: left half black (Y 16), right half white
        // (Y 235), neutral chroma.
        let (w, h, stride) = (64usize, 32usize, 72usize);
        let mut y = vec![0u8; stride * h];
        for row in 0..h {
            y[row * stride..row * stride + w / 2].fill(16);
            y[row * stride + w / 2..row * stride + w].fill(235);
        }
        let chroma = || (Bytes::from(vec![128u8; 40 * 16]), 40);
        let p = Picture::i420(
            w as u32,
            h as u32,
            [(Bytes::from(y), stride), chroma(), chroma()],
            Colorimetry::default(),
        );
        let s = LumaStats::from_picture(&p.view());
        assert!((s.mean - 127.5).abs() < 2.0, "{}", s.mean);
        assert!(s.variance > 16_000.0, "{}", s.variance);
        assert_eq!((s.thumbnail[0], s.thumbnail[7]), (0, 255));
        // The same picture as BGR gives the same statistics.
        let b = LumaStats::from_bgr(&p.view().to_bgr(), w as u32, h as u32);
        assert!(b.thumbnail_difference(&s) < 1.0);
    }

    #[test]
    fn luma_of_short_buffer_is_zero_not_a_panic() {
        let s = LumaStats::from_bgr(&[1, 2, 3], 10, 10);
        assert_eq!(s.mean, 0.0);
    }
}
