//! The analyzer stage as one unit: frames in → detector pool → per-camera tracker and rules →
//! evidence → [`AlertSender`].
//!
//! Threads and queues (all bounded):
//! - callers [`submit`](AnalyzerStage::submit) frames; when the detector queue is full the
//!   *newest* frame is dropped and counted per camera (`reason="detector_busy"`) — a live
//!   camera's next frame is worth more than an old one;
//! - the detector pool (one ONNX Runtime session per worker thread, dynamic batching across
//!   cameras) hands results, in submission order, to one "post" thread through a bounded
//!   channel that blocks: a detection that cost ~40 ms of CPU is never thrown away;
//! - the post thread owns every camera's tracker and rule engine (cheap: microseconds per
//!   frame), renders evidence only when a rule fires, and sends alerts with
//!   `AlertSender::blocking_send`, which waits rather than drops (alerts are never dropped).
//!
//! Camera changes ([`AnalyzerStage::update_cameras`], on an inventory reload or a new cluster
//! assignment) travel on the same channel as results, so a camera's rules change
//! between two of its frames, never in the middle of one.

use crate::analysis::CameraAnalysis;
use crate::detector::{
    DetectInput, Detected, DetectorPool, PictureRef, PoolOptions, SubmitError, Submitter,
};
use crate::evidence::{self, EvidenceBox, Overlay};
use crate::model::ResolvedModel;
use crate::publish::AlertSender;
use crate::rules::RuleEvent;
use crate::types::Detection;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use xueliang_core::CameraId;
use xueliang_core::config::{AnalyzerConfig, CameraConfig, RuleSpec};
use xueliang_core::contract::ModelRef;
use xueliang_core::frame::Frame;
use xueliang_core::labels::COCO80;

pub const FRAMES_ANALYSED: &str = "xueliang_analyzer_frames_total";
pub const FRAMES_DROPPED: &str = "xueliang_analyzer_frames_dropped_total";
pub const DETECT_ERRORS: &str = "xueliang_analyzer_detect_errors_total";
pub const ALERTS_RAISED: &str = "xueliang_analyzer_alerts_total";
pub const CAPTURE_TO_ALERT: &str = "xueliang_analyzer_capture_to_alert_seconds";
pub const EVIDENCE_ERRORS: &str = "xueliang_analyzer_evidence_errors_total";

// The detector takes the frame as ingest made it (the pool times its own queue wait).
impl DetectInput for Frame {
    fn frame(&self) -> PictureRef<'_> {
        self.picture.view()
    }
}

enum Post {
    // Boxed: a frame (picture planes, ids, timestamps) is ten times the size of the other variant.
    Result(Box<Detected<Frame>>),
    Cameras(Vec<CameraConfig>),
}

/// A running analyzer stage.
pub struct AnalyzerStage {
    pool: DetectorPool<Frame>,
    submitter: Submitter<Frame>,
    control: SyncSender<Post>,
    post: std::thread::JoinHandle<()>,
}

impl AnalyzerStage {
    /// Loads the model in every worker and starts the post thread.
    pub fn start(
        cfg: &AnalyzerConfig,
        model: &ResolvedModel,
        cameras: Vec<CameraConfig>,
        utc_offset_s: i32,
        alerts: AlertSender,
    ) -> Result<AnalyzerStage, crate::detector::DetectorError> {
        describe();
        let opts = PoolOptions::from_config(cfg, cfg.batch_max.get() * 4);
        let (tx, rx) = sync_channel::<Post>(256);
        let sink_tx = tx.clone();
        let pool = DetectorPool::start(model, &opts, move |d| {
            // Blocking send: see the module doc. Fails only once the post thread is gone.
            let _ = sink_tx.send(Post::Result(Box::new(d)));
        })?;
        let model_ref = ModelRef {
            name: model.spec.name.clone(),
            version: model.spec.version.clone(),
        };
        let post = std::thread::Builder::new()
            .name("analyzer-post".into())
            .spawn(move || post_loop(rx, cameras, utc_offset_s, model_ref, alerts))
            .expect("spawning the analyzer post thread");
        Ok(AnalyzerStage {
            submitter: pool.submitter(),
            pool,
            control: tx,
            post,
        })
    }

    /// Offers a frame; drops it (counted) when the detector is saturated. Never blocks.
    pub fn submit(&self, frame: Frame) {
        match self.submitter.try_submit(frame) {
            Ok(()) => {}
            Err(SubmitError::Full(f)) => {
                metrics::counter!(FRAMES_DROPPED, "camera" => f.camera.to_string(), "reason" => "detector_busy").increment(1);
            }
            Err(SubmitError::Closed(f)) => {
                metrics::counter!(FRAMES_DROPPED, "camera" => f.camera.to_string(), "reason" => "shutting_down").increment(1);
            }
        }
    }

    /// Applies a new camera inventory (rules and the set of cameras).
    pub fn update_cameras(&self, cameras: Vec<CameraConfig>) {
        let _ = self.control.send(Post::Cameras(cameras));
    }

    pub fn workers(&self) -> usize {
        self.pool.workers()
    }

    /// False once the post thread (tracking, rules, alerts) has stopped, which before
    /// [`shutdown`](Self::shutdown) only a panic does: the stage no longer produces alerts.
    pub fn is_alive(&self) -> bool {
        !self.post.is_finished()
    }

    /// Finishes every frame already accepted (their alerts are sent), then stops. Blocking.
    pub fn shutdown(self) {
        let AnalyzerStage {
            pool,
            submitter,
            control,
            post,
        } = self;
        drop(submitter);
        pool.shutdown();
        drop(control);
        let _ = post.join();
    }
}

struct CameraState {
    analysis: CameraAnalysis,
    cfg: CameraConfig,
}

fn camera_state(cfg: CameraConfig, utc_offset_s: i32) -> CameraState {
    CameraState {
        analysis: CameraAnalysis::new(cfg.id.clone(), cfg.rules.clone(), utc_offset_s),
        cfg,
    }
}

fn post_loop(
    rx: Receiver<Post>,
    cameras: Vec<CameraConfig>,
    utc_offset_s: i32,
    model: ModelRef,
    alerts: AlertSender,
) {
    let mut configs: HashMap<CameraId, CameraConfig> =
        cameras.into_iter().map(|c| (c.id.clone(), c)).collect();
    let mut state: HashMap<CameraId, CameraState> = HashMap::new();
    let mut scaled: Vec<Detection> = Vec::new();
    while let Ok(msg) = rx.recv() {
        let d = match msg {
            Post::Cameras(list) => {
                configs = list.into_iter().map(|c| (c.id.clone(), c)).collect();
                // Drop state of removed cameras; rebuild cameras whose rules changed.
                state.retain(|id, s| configs.get(id).is_some_and(|c| c.rules == s.cfg.rules));
                continue;
            }
            Post::Result(d) => *d,
        };
        let frame = &d.input;
        let camera = frame.camera.to_string();
        let detections = match &d.detections {
            Ok(v) => v,
            Err(e) => {
                metrics::counter!(DETECT_ERRORS, "camera" => camera.clone()).increment(1);
                tracing::warn!(camera = %frame.camera, error = %e, "detection failed for a frame");
                continue;
            }
        };
        metrics::counter!(FRAMES_ANALYSED, "camera" => camera.clone()).increment(1);
        let Some(cfg) = configs.get(&frame.camera) else {
            continue; // camera removed while its frame was in flight
        };
        let st = state
            .entry(frame.camera.clone())
            .or_insert_with(|| camera_state(cfg.clone(), utc_offset_s));
        let (sw, sh) = frame.source_size;
        let (fx, fy) = (
            sw as f32 / frame.picture.width() as f32,
            sh as f32 / frame.picture.height() as f32,
        );
        scaled.clear();
        scaled.extend(detections.iter().map(|det| Detection {
            bbox: [
                det.bbox[0] * fx,
                det.bbox[1] * fy,
                det.bbox[2] * fx,
                det.bbox[3] * fy,
            ],
            ..*det
        }));
        let events = st
            .analysis
            .step(frame.pts, frame.captured_at, [sw, sh], &scaled);
        for ev in events {
            let alert = build_alert(&ev, frame, &st.cfg, &model);
            metrics::counter!(ALERTS_RAISED, "camera" => camera.clone(), "event_type" => ev.event_type.as_str()).increment(1);
            let lag = (Utc::now() - frame.captured_at)
                .to_std()
                .unwrap_or_default();
            metrics::histogram!(CAPTURE_TO_ALERT).record(lag.as_secs_f64());
            if let Err(e) = alerts.blocking_send(alert) {
                tracing::error!(camera = %frame.camera, rule = %ev.rule_id, error = %e, "alert could not be handed to the publisher");
            }
        }
    }
}

fn build_alert(
    ev: &RuleEvent,
    frame: &Frame,
    cfg: &CameraConfig,
    model: &ModelRef,
) -> xueliang_core::contract::AlertV1 {
    let mut alert = ev.to_alert();
    alert.detected_at = Utc::now();
    alert.model = Some(model.clone());
    let rule = cfg.rules.iter().find(|r| r.id == ev.rule_id);
    let overlay = rule.map(|r| match &r.spec {
        RuleSpec::LineCrossing { line, .. } => Overlay::Line(*line),
        RuleSpec::ZoneIntrusion { zone, .. }
        | RuleSpec::Loitering { zone, .. }
        | RuleSpec::CrowdGathering { zone, .. }
        | RuleSpec::StationaryVehicle { zone, .. } => Overlay::Zone(zone),
    });
    // Prefer the full-resolution picture; fall back to the analysed frame.
    let (w, h, pixels) = match frame.evidence.as_ref().and_then(|e| e.bgr()) {
        Some(p) => p,
        None => {
            let p = frame.picture.view();
            (p.width, p.height, p.to_bgr())
        }
    };
    let (sw, sh) = frame.source_size;
    let (fx, fy) = (w as f32 / sw as f32, h as f32 / sh as f32);
    let boxes: Vec<EvidenceBox<'_>> = ev
        .objects
        .iter()
        .map(|o| EvidenceBox {
            label: COCO80.get(o.class as usize).copied().unwrap_or("object"),
            score: o.score,
            bbox: [
                o.bbox[0] * fx,
                o.bbox[1] * fy,
                o.bbox[2] * fx,
                o.bbox[3] * fy,
            ],
        })
        .collect();
    match evidence::render_snapshot(&pixels, w, h, &boxes, overlay, evidence::DEFAULT_MAX_BYTES) {
        Ok(jpeg) => alert.snapshot = Some(evidence::inline_snapshot(&jpeg)),
        Err(e) => {
            metrics::counter!(EVIDENCE_ERRORS).increment(1);
            tracing::warn!(camera = %frame.camera, error = %e, "evidence snapshot failed; alert sent without it");
        }
    }
    alert
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(FRAMES_ANALYSED, "Frames the detector analysed, per camera.");
    describe_counter!(
        FRAMES_DROPPED,
        "Frames dropped before detection (label `reason`: detector_busy, shutting_down)."
    );
    describe_counter!(DETECT_ERRORS, "Frames whose detection failed.");
    describe_counter!(ALERTS_RAISED, "Rule events turned into alerts.");
    describe_counter!(
        EVIDENCE_ERRORS,
        "Evidence snapshots that could not be rendered."
    );
    describe_histogram!(
        CAPTURE_TO_ALERT,
        Unit::Seconds,
        "Frame capture to the alert being handed to the publisher."
    );
    crate::rules::describe_metrics();
}
