//! Ingest metrics, per camera and in total (issue #3 part 6).
//!
//! Design decisions:
//! - **Counted once, read twice.** Every event increments an in-process atomic (for
//!   [`crate::IngestHandle::stats`], `/healthz`, benches and tests) and a Prometheus counter
//!   handle through the `metrics` crate. Handles are resolved once per camera, so the per-frame
//!   cost is two relaxed atomic adds, not a registry lookup.
//! - **Labels:** `camera` (the inventory's id: a fixed, operator-controlled set), `reason` and
//!   `state` (small enums). Totals are `sum without (camera)`; the lag histogram has no camera
//!   label (a histogram per camera would be ~12 series per camera), while the per-camera gauge
//!   [`DECODE_LAG_EWMA`] keeps each camera's smoothed lag.
//! - Series of a removed camera stay in the exporter until the process restarts (the `metrics`
//!   crate cannot unregister); its streaming gauge is set to 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use serde::Serialize;
use xueliang_core::CameraId;

pub const FRAMES_RECEIVED: &str = "xueliang_ingest_frames_received_total";
pub const BYTES_RECEIVED: &str = "xueliang_ingest_bytes_received_total";
pub const FRAMES_DECODED: &str = "xueliang_ingest_frames_decoded_total";
pub const FRAMES_EMITTED: &str = "xueliang_ingest_frames_emitted_total";
pub const FRAMES_DROPPED: &str = "xueliang_ingest_frames_dropped_total";
pub const DECODE_ERRORS: &str = "xueliang_ingest_decode_errors_total";
pub const RECONNECTS: &str = "xueliang_ingest_reconnects_total";
pub const CAMERA_STREAMING: &str = "xueliang_ingest_camera_streaming";
pub const CAMERAS: &str = "xueliang_ingest_cameras";
pub const INVENTORY_CHANGES: &str = "xueliang_ingest_inventory_changes_total";
pub const DECODE_LAG: &str = "xueliang_ingest_decode_lag_seconds";
pub const DECODE_LAG_EWMA: &str = "xueliang_ingest_decode_lag_ewma_seconds";

/// Why a frame was dropped (the `reason` label of [`FRAMES_DROPPED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The analyzer's frame queue was full: the newest frame was dropped.
    QueueFull,
    /// The camera's decoder input was full: the encoded frame was dropped (and, outside
    /// keyframes mode, the rest of its GOP too).
    DecoderBusy,
    /// Skipped until the next keyframe after loss or a drop: its reference frames were missing.
    WaitingKeyframe,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::DecoderBusy => "decoder_busy",
            DropReason::WaitingKeyframe => "waiting_keyframe",
        }
    }
}

/// Registers descriptions of every ingest metric. Call once at start-up (idempotent).
pub fn describe() {
    describe_counter!(
        FRAMES_RECEIVED,
        "Encoded frames received from the camera (label `camera`)."
    );
    describe_counter!(
        BYTES_RECEIVED,
        Unit::Bytes,
        "Encoded bytes received from the camera (label `camera`)."
    );
    describe_counter!(
        FRAMES_DECODED,
        "Pictures output by the decoder, before N-fps pacing (label `camera`)."
    );
    describe_counter!(
        FRAMES_EMITTED,
        "Sampled, scaled frames handed to the analyzer queue (label `camera`)."
    );
    describe_counter!(
        FRAMES_DROPPED,
        "Frames lost inside ingest (labels `camera`, `reason`: queue_full, decoder_busy, \
         waiting_keyframe). Sampling policy skips are not drops."
    );
    describe_counter!(
        DECODE_ERRORS,
        "Decoder errors and warnings, e.g. corrupt slices (label `camera`)."
    );
    describe_counter!(
        RECONNECTS,
        "RTSP sessions re-established after a failure (label `camera`)."
    );
    describe_gauge!(
        CAMERA_STREAMING,
        "1 while the camera's session delivers frames (label `camera`)."
    );
    describe_gauge!(CAMERAS, "Cameras per session state (label `state`).");
    describe_counter!(
        INVENTORY_CHANGES,
        "Cameras started, stopped or restarted by inventory changes (label `change`: added, \
         removed, restarted)."
    );
    describe_histogram!(
        DECODE_LAG,
        Unit::Seconds,
        "Time from receiving an encoded frame to its decoded, scaled picture, all cameras."
    );
    describe_gauge!(
        DECODE_LAG_EWMA,
        Unit::Seconds,
        "Smoothed receive-to-decode lag per camera (label `camera`)."
    );
}

/// An in-process count mirrored to a Prometheus counter.
pub(crate) struct Count {
    n: AtomicU64,
    counter: Counter,
}

impl Count {
    fn new(counter: Counter) -> Count {
        Count {
            n: AtomicU64::new(0),
            counter,
        }
    }

    pub(crate) fn add(&self, v: u64) {
        self.n.fetch_add(v, Ordering::Relaxed);
        self.counter.increment(v);
    }

    pub(crate) fn get(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
}

/// One camera's counters, shared by its session task and its decoder.
pub struct CameraCounters {
    pub(crate) camera: CameraId,
    pub(crate) received: Count,
    pub(crate) bytes: Count,
    pub(crate) decoded: Count,
    pub(crate) emitted: Count,
    pub(crate) dropped_queue_full: Count,
    pub(crate) dropped_decoder_busy: Count,
    pub(crate) dropped_waiting_keyframe: Count,
    pub(crate) decode_errors: Count,
    pub(crate) reconnects: Count,
    streaming: Gauge,
    lag_hist: Histogram,
    lag_gauge: Gauge,
    /// Smoothed lag in nanoseconds (f64 bits).
    lag_ewma: AtomicU64,
    /// Wall-clock ms of the last encoded frame received, 0 = never.
    last_received_ms: AtomicI64,
    /// Wall-clock ms of the last frame emitted to the analyzer, 0 = never.
    last_emitted_ms: AtomicI64,
    /// Frames emitted, across reconnects: the source of [`crate::Frame::seq`].
    pub(crate) seq: AtomicU64,
}

impl CameraCounters {
    pub fn new(camera: &CameraId) -> Arc<CameraCounters> {
        let id = camera.to_string();
        let c = |name: &'static str| Count::new(counter!(name, "camera" => id.clone()));
        let drop = |r: DropReason| {
            Count::new(counter!(FRAMES_DROPPED, "camera" => id.clone(), "reason" => r.as_str()))
        };
        Arc::new(CameraCounters {
            camera: camera.clone(),
            received: c(FRAMES_RECEIVED),
            bytes: c(BYTES_RECEIVED),
            decoded: c(FRAMES_DECODED),
            emitted: c(FRAMES_EMITTED),
            dropped_queue_full: drop(DropReason::QueueFull),
            dropped_decoder_busy: drop(DropReason::DecoderBusy),
            dropped_waiting_keyframe: drop(DropReason::WaitingKeyframe),
            decode_errors: c(DECODE_ERRORS),
            reconnects: c(RECONNECTS),
            streaming: gauge!(CAMERA_STREAMING, "camera" => id.clone()),
            lag_hist: histogram!(DECODE_LAG),
            lag_gauge: gauge!(DECODE_LAG_EWMA, "camera" => id.clone()),
            lag_ewma: AtomicU64::new(f64::NAN.to_bits()),
            last_received_ms: AtomicI64::new(0),
            last_emitted_ms: AtomicI64::new(0),
            seq: AtomicU64::new(0),
        })
    }

    pub(crate) fn dropped(&self, reason: DropReason) {
        match reason {
            DropReason::QueueFull => self.dropped_queue_full.add(1),
            DropReason::DecoderBusy => self.dropped_decoder_busy.add(1),
            DropReason::WaitingKeyframe => self.dropped_waiting_keyframe.add(1),
        }
    }

    pub(crate) fn frame_received(&self, bytes: usize, at: DateTime<Utc>) {
        self.received.add(1);
        self.bytes.add(bytes as u64);
        self.last_received_ms
            .store(at.timestamp_millis(), Ordering::Relaxed);
    }

    /// Records one emitted frame's lag (the only writer is the camera's decoder thread).
    pub(crate) fn frame_emitted(&self, lag: Duration) {
        self.emitted.add(1);
        self.last_emitted_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
        let secs = lag.as_secs_f64();
        self.lag_hist.record(secs);
        let old = f64::from_bits(self.lag_ewma.load(Ordering::Relaxed));
        let new = if old.is_nan() {
            secs * 1e9
        } else {
            old + 0.1 * (secs * 1e9 - old)
        };
        self.lag_ewma.store(new.to_bits(), Ordering::Relaxed);
        self.lag_gauge.set(new / 1e9);
    }

    pub(crate) fn set_streaming(&self, on: bool) {
        self.streaming.set(if on { 1.0 } else { 0.0 });
    }

    /// Wall-clock time of the last encoded frame received, if any.
    pub fn last_received_at(&self) -> Option<DateTime<Utc>> {
        ms_to_time(self.last_received_ms.load(Ordering::Relaxed))
    }

    pub fn snapshot(&self) -> CameraStats {
        let lag = f64::from_bits(self.lag_ewma.load(Ordering::Relaxed));
        CameraStats {
            camera: self.camera.clone(),
            received: self.received.get(),
            bytes: self.bytes.get(),
            decoded: self.decoded.get(),
            emitted: self.emitted.get(),
            dropped_queue_full: self.dropped_queue_full.get(),
            dropped_decoder_busy: self.dropped_decoder_busy.get(),
            dropped_waiting_keyframe: self.dropped_waiting_keyframe.get(),
            decode_errors: self.decode_errors.get(),
            reconnects: self.reconnects.get(),
            decode_lag_ms: (!lag.is_nan()).then(|| lag / 1e6),
            last_received_at: ms_to_time(self.last_received_ms.load(Ordering::Relaxed)),
            last_emitted_at: ms_to_time(self.last_emitted_ms.load(Ordering::Relaxed)),
        }
    }
}

fn ms_to_time(ms: i64) -> Option<DateTime<Utc>> {
    (ms != 0)
        .then(|| DateTime::from_timestamp_millis(ms))
        .flatten()
}

/// A snapshot of one camera's counters.
#[derive(Debug, Clone, Serialize)]
pub struct CameraStats {
    pub camera: CameraId,
    pub received: u64,
    pub bytes: u64,
    pub decoded: u64,
    pub emitted: u64,
    pub dropped_queue_full: u64,
    pub dropped_decoder_busy: u64,
    pub dropped_waiting_keyframe: u64,
    pub decode_errors: u64,
    pub reconnects: u64,
    /// Smoothed receive-to-decode lag (EWMA, α = 0.1), once a frame was emitted.
    pub decode_lag_ms: Option<f64>,
    pub last_received_at: Option<DateTime<Utc>>,
    pub last_emitted_at: Option<DateTime<Utc>>,
}

impl CameraStats {
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_decoder_busy + self.dropped_waiting_keyframe
    }
}

/// Counters of every camera and their sums.
#[derive(Debug, Clone, Serialize)]
pub struct IngestStats {
    pub cameras: Vec<CameraStats>,
    pub total: TotalStats,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TotalStats {
    pub received: u64,
    pub bytes: u64,
    pub decoded: u64,
    pub emitted: u64,
    pub dropped: u64,
    pub decode_errors: u64,
    pub reconnects: u64,
}

impl IngestStats {
    pub fn from_cameras(cameras: Vec<CameraStats>) -> IngestStats {
        let mut t = TotalStats::default();
        for c in &cameras {
            t.received += c.received;
            t.bytes += c.bytes;
            t.decoded += c.decoded;
            t.emitted += c.emitted;
            t.dropped += c.dropped();
            t.decode_errors += c.decode_errors;
            t.reconnects += c.reconnects;
        }
        IngestStats { cameras, total: t }
    }

    pub fn camera(&self, id: &CameraId) -> Option<&CameraStats> {
        self.cameras.iter().find(|c| &c.camera == id)
    }
}
