//! One step (N cameras at one sampling policy, a fixed measured window) and the ramp that
//! finds the most cameras a node sustains.
//!
//! A step **fails** when any of these holds over its window:
//! - fewer than N cameras are streaming;
//! - more than 1 % of the frames the policy samples are lost anywhere on the way to the
//!   detector: dropped by camsim for a slow reader, by ingest (decoder busy, or the frame
//!   queue full), or refused by the detector queue. Losses of encoded frames are converted to
//!   samples (in keyframes mode a dropped keyframe is one sample; at N fps a dropped encoded
//!   frame is N/25 of one);
//! - the end-to-end p99 (capture → pushed to a desk) of the alerts captured in the window is
//!   over 1 s, counting an alert not pushed within 5 s of the edge's drain as over.
//!
//! The ramp starts at `start`, grows by half each time a step passes, and once a step has
//! failed bisects between the largest pass and the smallest failure until they are within
//! 10 % (or the step budget is spent).

use super::pipeline::{AlertLog, Deployment, Edge, Seen};
use super::probe::{CpuSample, EXTERNAL, Metrics, STAGES, percentile};
use chrono::Utc;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant};
use xueliang_camsim::CamsimHandle;
use xueliang_core::config::Sampling;
use xueliang_testkit::proc::{machine_cpu_s, rss_mb};

/// The p99 end-to-end latency a sustained step must stay under.
pub const P99_LIMIT_MS: f64 = 1000.0;
/// The share of sampled frames a sustained step may lose.
pub const LOSS_LIMIT: f64 = 0.01;
const GROWTH: f64 = 1.5;

/// A sampling policy under test.
#[derive(Clone, Debug)]
pub struct Policy {
    /// JSON key: `keyframes`, `fps1`, `fps5`, …
    pub key: String,
    pub sampling: Sampling,
}

impl Policy {
    pub fn parse(s: &str) -> anyhow::Result<Policy> {
        let s = s.trim();
        let sampling = Sampling::parse(s).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown sampling policy {s:?}: use keyframes, all or <N>fps (e.g. 1fps)"
            )
        })?;
        let key = match sampling {
            Sampling::Keyframes => "keyframes".to_owned(),
            Sampling::All => "all".to_owned(),
            Sampling::Fps(n) => format!("fps{n}"),
        };
        Ok(Policy { key, sampling })
    }

    /// Frames the policy samples per camera-second on a clip at `fps` with one IDR every `gop`
    /// frames.
    pub fn samples_per_s(&self, fps: f64, gop: f64) -> f64 {
        match self.sampling {
            Sampling::Keyframes => fps / gop.max(1.0),
            Sampling::Fps(n) => (n as f64).min(fps),
            Sampling::All => fps,
        }
    }
}

/// Latency percentiles of one leg, ms; `None` where an alert never arrived (counted as over
/// any limit) or there were no alerts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Leg {
    pub n: usize,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Leg {
    /// `samples` in ms, `missing` alerts that never arrived.
    pub fn of(samples: &[f64], missing: usize) -> Leg {
        let mut v: Vec<f64> = samples.to_vec();
        v.extend(std::iter::repeat_n(f64::INFINITY, missing));
        v.sort_by(f64::total_cmp);
        let finite = |x: Option<f64>| x.filter(|x| x.is_finite());
        Leg {
            n: samples.len(),
            p50: finite(percentile(&v, 50.0)),
            p95: finite(percentile(&v, 95.0)),
            p99: finite(percentile(&v, 99.0)),
            max: finite(v.last().copied()),
        }
    }
}

/// What one step measured.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub policy: String,
    pub cameras: usize,
    pub pass: bool,
    /// Why it failed (empty when it passed).
    pub why: String,
    pub seconds: f64,
    pub streaming: u64,
    pub frames_received: u64,
    pub frames_decoded: u64,
    pub frames_emitted: u64,
    pub frames_analysed: u64,
    pub dropped_camsim: u64,
    pub dropped_decoder: u64,
    pub dropped_queue_full: u64,
    pub dropped_detector_busy: u64,
    pub loss: f64,
    pub analysed_fps: f64,
    /// Decoded pictures per CPU-second of the decoder threads.
    pub decode_per_cpu_s: f64,
    /// Detected frames per CPU-second of the detector threads.
    pub detect_per_cpu_s: f64,
    pub mean_batch: f64,
    pub alerts_published_per_s: f64,
    pub alerts_consumed_per_s: f64,
    /// Cores per CPU bucket (see `probe::STAGES`).
    pub cores: BTreeMap<String, f64>,
    /// Cores of the node's own work (every bucket but camsim and the broker).
    pub node_cores: f64,
    pub machine_busy_cores: f64,
    /// Busy cores not accounted for by this process or the broker: other work on the machine
    /// during the window (a shared machine makes every figure here lower).
    pub other_processes_cores: f64,
    pub rss_before_mb: f64,
    pub rss_mb: f64,
    pub alerts: usize,
    pub not_pushed: usize,
    pub kafka_ms: Leg,
    pub push_ms: Leg,
    /// Median of each segment of the alerts' path, ms: capture → rules fired (receive,
    /// decode, queues, detection, tracking), → handed to the publisher (evidence JPEG),
    /// → in Kafka (publisher queue, spool, produce, ack, observer fetch), → pushed to a desk
    /// (dispatcher fetch, routing, store commit).
    pub segments_p50_ms: BTreeMap<String, f64>,
    /// Means over the window from the stages' own histograms, ms: ingest's receive → decoded
    /// picture, the detector queue wait, a detector batch (pre-processing + inference +
    /// post-processing), the analyzer's capture → alert raised, the publisher's hand-over →
    /// Kafka acknowledgement.
    pub stage_means_ms: BTreeMap<String, f64>,
    #[serde(skip)]
    pub kafka_samples: Vec<f64>,
    #[serde(skip)]
    pub push_samples: Vec<f64>,
}

/// What a step needs from the running bench.
pub struct Ctx<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub camsim: &'a CamsimHandle,
    pub dep: &'a Deployment,
    pub prom: &'a PrometheusHandle,
    pub log: &'a AlertLog,
    pub broker_pid: Option<u32>,
    pub clip_fps: f64,
    pub gop: f64,
    pub window: Duration,
    pub warmup: Duration,
    /// Rewrite one progress line in place (stderr is a terminal) instead of printing lines.
    pub live: bool,
    pub steps_done: usize,
}

struct Snap {
    m: Metrics,
    cpu: CpuSample,
    machine: (f64, f64),
    camsim_dropped: u64,
}

impl Ctx<'_> {
    fn snap(&self) -> Snap {
        let st = self.camsim.stats();
        Snap {
            m: Metrics::take(self.prom),
            cpu: CpuSample::take(self.broker_pid),
            machine: machine_cpu_s(),
            camsim_dropped: st.frames_dropped_slow_client + st.frames_dropped_server_late,
        }
    }

    fn progress(&self, line: &str, done: bool) {
        let mut e = std::io::stderr().lock();
        if self.live {
            let _ = write!(e, "\r\x1b[2K{line}");
            if done {
                let _ = writeln!(e);
            }
        } else {
            let _ = writeln!(e, "{line}");
        }
        let _ = e.flush();
    }

    /// Runs one step: starts the edge with `n` cameras, waits for them, measures, drains.
    pub fn step(&mut self, policy: &Policy, n: usize) -> anyhow::Result<Step> {
        self.steps_done += 1;
        let tag = format!("[{} step {}] {n} cameras", policy.key, self.steps_done);
        // The previous step's sessions must be gone (camsim counts them).
        let t = Instant::now();
        while self.camsim.stats().sessions_playing > 0 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let rss_before = rss_mb();
        let settings = self.dep.step(n, policy.sampling);
        let edge = Edge::start(self.rt, &settings)?;
        self.progress(&format!("{tag}: starting"), false);
        let connect = Duration::from_secs(10) + Duration::from_millis(20 * n as u64);
        let t = Instant::now();
        while (self.camsim.stats().sessions_playing as usize) < n && t.elapsed() < connect {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(self.warmup);

        let (a, w0) = (self.snap(), Utc::now());
        let t0 = Instant::now();
        let mut next = Duration::from_secs(1);
        let every = if self.live { 1 } else { 5 };
        while t0.elapsed() < self.window {
            std::thread::sleep(
                (t0 + next)
                    .saturating_duration_since(Instant::now())
                    .min(self.window.saturating_sub(t0.elapsed())),
            );
            if next.as_secs().is_multiple_of(every) && t0.elapsed() < self.window {
                let m = Metrics::take(self.prom);
                let d = |name: &str| m.sum(name) - a.m.sum(name);
                let analysed = d("xueliang_detector_frames_total");
                let busy = m.sum_where(
                    "xueliang_analyzer_frames_dropped_total",
                    "reason",
                    "detector_busy",
                ) - a.m.sum_where(
                    "xueliang_analyzer_frames_dropped_total",
                    "reason",
                    "detector_busy",
                );
                self.progress(
                    &format!(
                        "{tag}: {:>3.0}/{:.0} s  {} streaming  analysed {:.1} fps  detector refused {:.0}  alerts {}",
                        t0.elapsed().as_secs_f64(),
                        self.window.as_secs_f64(),
                        self.camsim.stats().sessions_playing,
                        analysed / t0.elapsed().as_secs_f64(),
                        busy,
                        self.log.captured_between(w0, Utc::now()).len(),
                    ),
                    false,
                );
            }
            next += Duration::from_secs(1);
        }
        let (b, w1) = (self.snap(), Utc::now());
        tracing::debug!(threads = ?b.cpu.other_names, "threads counted as \"other\"");
        let seconds = t0.elapsed().as_secs_f64();
        let streaming = self.camsim.stats().sessions_playing;
        let rss = rss_mb();
        self.progress(&format!("{tag}: draining"), false);
        let drained = edge.stop(self.rt, Duration::from_secs(20));
        if !drained {
            tracing::warn!("the edge did not drain within 20 s");
        }
        // Alerts of the window reach Kafka by the end of the drain; give the observers and
        // the dispatcher time to see them.
        let t = Instant::now();
        std::thread::sleep(Duration::from_millis(500));
        loop {
            let seen = self.log.captured_between(w0, w1);
            let waiting = seen
                .iter()
                .filter(|s| s.in_kafka.is_some() && s.pushed.is_none())
                .count();
            if waiting == 0 || t.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let seen = self.log.captured_between(w0, w1);
        let step = self.measure(
            policy, n, &a, &b, seconds, streaming, rss_before, rss, &seen,
        );
        let verdict = if step.pass {
            "pass".to_owned()
        } else {
            format!("FAIL ({})", step.why)
        };
        let ms = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.0}"));
        self.progress(
            &format!(
                "{tag}: {verdict}  analysed {:.1} fps  loss {:.2}%  e2e p50 {} p99 {} ms ({} alerts)  node {:.2} cores, machine {:.2} ({:.2} other processes)",
                step.analysed_fps,
                step.loss * 100.0,
                ms(step.push_ms.p50),
                ms(step.push_ms.p99),
                step.alerts,
                step.node_cores,
                step.machine_busy_cores,
                step.other_processes_cores,
            ),
            true,
        );
        Ok(step)
    }

    #[allow(clippy::too_many_arguments)]
    fn measure(
        &self,
        policy: &Policy,
        n: usize,
        a: &Snap,
        b: &Snap,
        seconds: f64,
        streaming: u64,
        rss_before: f64,
        rss: f64,
        seen: &[Seen],
    ) -> Step {
        let d = |name: &str| (b.m.sum(name) - a.m.sum(name)).max(0.0);
        let dw = |name: &str, k: &str, v: &str| {
            (b.m.sum_where(name, k, v) - a.m.sum_where(name, k, v)).max(0.0)
        };
        const DROPPED: &str = "xueliang_ingest_frames_dropped_total";
        let busy = dw(DROPPED, "reason", "decoder_busy");
        let waiting = dw(DROPPED, "reason", "waiting_keyframe");
        let queue_full = dw(DROPPED, "reason", "queue_full");
        let refused = dw(
            "xueliang_analyzer_frames_dropped_total",
            "reason",
            "detector_busy",
        );
        let camsim_dropped = b.camsim_dropped.saturating_sub(a.camsim_dropped) as f64;
        let emitted = d("xueliang_ingest_frames_emitted_total");
        let analysed = dw("xueliang_detector_frames_total", "result", "ok");
        // Encoded frames lost → samples lost.
        let per_frame = policy.samples_per_s(self.clip_fps, self.gop) / self.clip_fps;
        let decoder_lost = match policy.sampling {
            Sampling::Keyframes => busy,
            _ => (busy + waiting) * per_frame,
        };
        let camsim_lost = camsim_dropped * per_frame;
        let sampled = emitted + queue_full + decoder_lost + camsim_lost;
        let lost = refused + queue_full + decoder_lost + camsim_lost;
        let loss = if sampled > 0.0 { lost / sampled } else { 0.0 };

        let cores_arr = a.cpu.cores_until(&b.cpu);
        let cores: BTreeMap<String, f64> = STAGES
            .iter()
            .zip(cores_arr)
            .map(|(s, c)| ((*s).to_owned(), c))
            .collect();
        let node_cores = STAGES
            .iter()
            .zip(cores_arr)
            .filter(|(s, _)| !EXTERNAL.contains(s))
            .map(|(_, c)| c)
            .sum();
        let cpu_s = |stage: &str| cores[stage] * seconds;
        let decoded = d("xueliang_ingest_frames_decoded_total");
        let batches = d("xueliang_detector_batch_size_count");

        let ms = |from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>| {
            (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
        };
        let kafka: Vec<f64> = seen
            .iter()
            .filter_map(|s| Some(ms(s.captured?, s.in_kafka?)))
            .collect();
        let push: Vec<f64> = seen
            .iter()
            .filter_map(|s| Some(ms(s.captured?, s.pushed?)))
            .collect();
        let not_pushed = seen.len() - push.len();
        let mut segments_p50_ms = BTreeMap::new();
        for (name, from, to) in [
            (
                "1_capture_to_detected",
                (|s: &Seen| s.captured) as fn(&Seen) -> _,
                (|s: &Seen| s.detected) as fn(&Seen) -> _,
            ),
            ("2_detected_to_published", |s| s.detected, |s| s.published),
            ("3_published_to_kafka", |s| s.published, |s| s.in_kafka),
            ("4_kafka_to_pushed", |s| s.in_kafka, |s| s.pushed),
        ] {
            let mut v: Vec<f64> = seen
                .iter()
                .filter_map(|s| Some(ms(from(s)?, to(s)?)))
                .collect();
            v.sort_by(f64::total_cmp);
            if let Some(p) = percentile(&v, 50.0) {
                segments_p50_ms.insert(name.to_owned(), p);
            }
        }
        let push_ms = Leg::of(&push, not_pushed);
        let kafka_ms = Leg::of(&kafka, seen.len() - kafka.len());

        let mut stage_means_ms = BTreeMap::new();
        for (name, metric) in [
            ("decode_lag", "xueliang_ingest_decode_lag_seconds"),
            (
                "detector_queue_wait",
                "xueliang_detector_queue_wait_seconds",
            ),
            ("detector_batch", "xueliang_detector_batch_seconds"),
            (
                "capture_to_alert",
                "xueliang_analyzer_capture_to_alert_seconds",
            ),
            ("alert_delivery", "xueliang_alert_delivery_seconds"),
        ] {
            let count = d(&format!("{metric}_count"));
            if count > 0.0 {
                let mut mean = d(&format!("{metric}_sum")) / count * 1000.0;
                if name == "detector_batch" {
                    // One observation per step (pre-processing, inference, post-processing)
                    // per batch: the batch is their sum.
                    mean *= 3.0;
                }
                stage_means_ms.insert(name.to_owned(), mean);
            }
        }
        let mut why = Vec::new();
        if (streaming as usize) < n {
            why.push(format!("{streaming} of {n} cameras streaming"));
        }
        if loss > LOSS_LIMIT {
            let mut parts = Vec::new();
            for (what, v) in [
                ("detector queue full", refused),
                ("frame queue full", queue_full),
                ("decoder busy", decoder_lost),
                ("camsim slow reader", camsim_lost),
            ] {
                if v > 0.0 {
                    parts.push(format!("{what} {v:.0}"));
                }
            }
            why.push(format!(
                "{:.1}% of samples lost: {}",
                loss * 100.0,
                parts.join(", ")
            ));
        }
        if !seen.is_empty() && push_ms.p99.is_none_or(|p| p > P99_LIMIT_MS) {
            why.push(match push_ms.p99 {
                Some(p) => format!("p99 {p:.0} ms"),
                None => format!("{not_pushed} of {} alerts not pushed", seen.len()),
            });
        }
        let (busy_s, _) = (b.machine.0 - a.machine.0, b.machine.1 - a.machine.1);
        Step {
            policy: policy.key.clone(),
            cameras: n,
            pass: why.is_empty(),
            why: why.join("; "),
            seconds,
            streaming,
            frames_received: d("xueliang_ingest_frames_received_total") as u64,
            frames_decoded: decoded as u64,
            frames_emitted: emitted as u64,
            frames_analysed: analysed as u64,
            dropped_camsim: camsim_dropped as u64,
            dropped_decoder: (busy + waiting) as u64,
            dropped_queue_full: queue_full as u64,
            dropped_detector_busy: refused as u64,
            loss,
            analysed_fps: analysed / seconds,
            decode_per_cpu_s: decoded / cpu_s("decode").max(1e-6),
            detect_per_cpu_s: analysed / cpu_s("detect").max(1e-6),
            mean_batch: if batches > 0.0 {
                d("xueliang_detector_batch_size_sum") / batches
            } else {
                0.0
            },
            alerts_published_per_s: d("xueliang_alerts_published_total") / seconds,
            alerts_consumed_per_s: d("xueliang_dispatcher_consumed_total") / seconds,
            cores,
            node_cores,
            machine_busy_cores: busy_s / seconds,
            other_processes_cores: (busy_s / seconds - cores_arr.iter().sum::<f64>()).max(0.0),
            rss_before_mb: rss_before,
            rss_mb: rss,
            alerts: seen.len(),
            not_pushed,
            kafka_ms,
            push_ms,
            segments_p50_ms,
            stage_means_ms,
            kafka_samples: kafka,
            push_samples: push,
        }
    }

    /// Ramps `policy` from `start` cameras; returns every step in the order run.
    pub fn ramp(
        &mut self,
        policy: &Policy,
        start: usize,
        max: usize,
        max_steps: usize,
    ) -> anyhow::Result<Vec<Step>> {
        let (mut lo, mut hi): (Option<usize>, Option<usize>) = (None, None);
        let mut n = start.clamp(1, max.max(1));
        let mut steps = Vec::new();
        for _ in 0..max_steps.max(1) {
            let s = self.step(policy, n)?;
            if s.pass {
                lo = Some(n);
            } else {
                hi = Some(n);
            }
            steps.push(s);
            n = match (lo, hi) {
                (Some(l), None) if l >= max => break,
                (Some(l), None) => ((l as f64 * GROWTH).ceil() as usize).clamp(l + 1, max),
                (None, Some(h)) if h <= 1 => break,
                (None, Some(h)) => (h / 2).max(1),
                (Some(l), Some(h)) if h - l <= (l / 10).max(1) => break,
                (Some(l), Some(h)) => (l + h) / 2,
                (None, None) => unreachable!("every step passes or fails"),
            };
        }
        Ok(steps)
    }
}
