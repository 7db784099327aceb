//! `xueliang-bench e2e`: how many cameras one node serves, per sampling policy, with what
//! latency, and where the bottleneck is.
//!
//! Everything runs in this process except the broker: camsim (its own one-thread runtime)
//! serves the street clip to N cameras; the edge (ingest → analyzer → alert publisher) and
//! the dispatcher (consumer → router → store → push hub → desk API) are started by the same
//! functions `xueliang run` uses, from a deployment generated out of `--config` (see
//! [`pipeline`]); tansu is started as the integration tests start it.
//!
//! Design decisions:
//! - **Limits first, in the same run** ([`limits`]): the raw decoder on the same clip and the
//!   raw ONNX Runtime session at the configured batch and threads are measured before
//!   anything else runs, so they see a quiet process; the broker's raw produce/consume rate is
//!   measured at the end, with messages of the mean size of the alerts the run produced
//!   (evidence snapshots included), once the pipeline is stopped.
//! - **A fresh edge per step**, the dispatcher, camsim and broker for the whole run: a restart
//!   gives each step a clean analyzer queue, tracker state and counters (an inventory reload
//!   would keep them), while the dispatcher's start (store, partitions) happens once.
//! - **Counters, not guesses** ([`probe`]): frames received, decoded, sampled, dropped (per
//!   reason) and detected come from the stages' own Prometheus counters, read through the
//!   recorder `xueliang run` installs; CPU per stage from per-thread CPU time by thread name.
//! - **Memory per camera** is the growth of resident memory over the run's first step, after
//!   an edge with no camera has come and gone: later steps reuse memory the allocator kept
//!   from earlier, larger ones, so their growth says little.
//! - **Ratios**: `decode` and `detect` compare the stage's throughput per CPU-second of its
//!   own threads with the raw limit per CPU-second (what the ≥ 0.9 target is about: how much
//!   the stage adds to the bare decoder / session); `publish` and `dispatch` compare the alert
//!   rate with the broker's raw produce / consume rate (how much of the broker the load uses —
//!   its efficiency under saturation is `bench dispatch`'s subject). Top-level ratios are the
//!   worst over the policies.
//! - Output: a live line on stderr while it runs; at the end Markdown tables and, as the last
//!   stdout line, one JSON object; `bench-e2e.json`, `report.md` and two SVG plots in `--out`.

pub(crate) mod limits;
mod pipeline;
pub(crate) mod probe;
mod ramp;
mod report;

use crate::DEFAULT_CONFIG;
use anyhow::{Context, ensure};
use limits::{BrokerLimit, DecodeLimit, OrtLimit, start_broker};
use pipeline::{AlertLog, Deployment};
use ramp::{Ctx, LOSS_LIMIT, Leg, P99_LIMIT_MS, Policy, Step};
use serde::Serialize;
use serde_json::json;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xueliang_camsim::{self as camsim, CamsimOptions};
use xueliang_core::config::Sampling;
use xueliang_testkit::proc;

/// Issue #7's targets for a 2-core node.
const SESSIONS_TARGET: usize = 2000;
const RATIO_TARGET: f64 = 0.9;

/// What `bench e2e` was asked to do (its CLI flags).
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Smoke run (under a minute): one small step per policy, short windows and limits.
    #[arg(long)]
    pub quick: bool,
    /// Seconds measured per step, after warm-up [default: 20; 3 with --quick].
    #[arg(long)]
    pub window: Option<f64>,
    /// Sampling policies to ramp, comma-separated: keyframes, all or <N>fps.
    #[arg(long, value_delimiter = ',', default_value = "keyframes,1fps,5fps")]
    pub policies: Vec<String>,
    /// Most cameras any step may have (camsim serves this many).
    #[arg(long, default_value_t = 1024)]
    pub max_cameras: usize,
    /// Most steps per policy [default: 6; 1 with --quick].
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Cameras of every policy's first step [default: 0.6 × the estimate from the limits;
    /// 1 with --quick].
    #[arg(long)]
    pub start: Option<usize>,
    /// Where to write bench-e2e.json, report.md, cpu-per-stage.svg and latency-cdf.svg.
    #[arg(long, default_value = "target/bench-e2e")]
    pub out: PathBuf,
    /// Deployment template: its node settings, desks, routing and jurisdictions are used;
    /// broker, topics, listen addresses, data directory and cameras are the bench's.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Clip camsim serves (a preset or an H.264 Annex B file); the rules fire on vtest.
    #[arg(long, default_value = "vtest")]
    pub clip: String,
}

#[derive(Clone, Debug, Default, Serialize)]
struct Ratios {
    decode: Option<f64>,
    detect: Option<f64>,
    publish: Option<f64>,
    dispatch: Option<f64>,
}

#[derive(Serialize)]
struct PolicySummary {
    policy: String,
    max_cameras: usize,
    samples_per_camera_s: f64,
    /// First step of the ramp and the capacity estimated from the limits.
    start: usize,
    estimate: usize,
    /// The step the figures below come from: the largest that passed, else the smallest run.
    reference_cameras: usize,
    reference_passed: bool,
    bottleneck: String,
    ratios: Ratios,
    /// Node cores (camsim and the broker excluded) per camera at the reference step.
    cpu_per_camera: Option<f64>,
    kafka_ms: Leg,
    push_ms: Leg,
    steps: Vec<Step>,
}

struct Limits {
    decode: DecodeLimit,
    ort: Vec<OrtLimit>,
    broker: Option<BrokerLimit>,
}

impl Limits {
    /// Raw ONNX Runtime frames per CPU-second at a mean batch size: the CPU time per frame is
    /// interpolated linearly between the batch sizes measured (the pipeline's batches vary
    /// between 1 and `batch_max` with the load).
    fn ort_per_cpu_s(&self, batch: f64) -> Option<f64> {
        ort_per_cpu_s(&self.ort, batch)
    }
}

fn ort_per_cpu_s(ort: &[OrtLimit], batch: f64) -> Option<f64> {
    let mut v: Vec<(f64, f64)> = ort
        .iter()
        .filter(|o| o.raw_per_cpu_s > 0.0)
        .map(|o| (o.batch as f64, 1.0 / o.raw_per_cpu_s))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (first, last) = (*v.first()?, *v.last()?);
    let per_frame = if batch <= first.0 {
        first.1
    } else if batch >= last.0 {
        last.1
    } else {
        let w = v.windows(2).find(|w| batch <= w[1].0)?;
        let f = (batch - w[0].0) / (w[1].0 - w[0].0);
        w[0].1 + f * (w[1].1 - w[0].1)
    };
    Some(1.0 / per_frame)
}

/// Cameras a node of `cores` should hold at `p`, from the raw limits alone (decode + detect
/// CPU per camera); the ramp starts below it.
fn estimate(p: &Policy, l: &Limits, fps: f64, gop: f64, cores: usize) -> usize {
    let ort = l.ort_per_cpu_s(1.0).unwrap_or(30.0);
    let detect = p.samples_per_s(fps, gop) / ort;
    let decode = match p.sampling {
        Sampling::Keyframes => (fps / gop) / l.decode.raw_keyframes_per_cpu_s,
        _ => fps / l.decode.raw_all_per_cpu_s,
    };
    (cores as f64 * 0.85 / (detect + decode)).floor().max(1.0) as usize
}

pub fn run(o: Options) -> anyhow::Result<()> {
    let began = Instant::now();
    let policies: Vec<Policy> = o
        .policies
        .iter()
        .map(|p| Policy::parse(p))
        .collect::<anyhow::Result<_>>()?;
    ensure!(
        !policies.is_empty(),
        "--policies is empty: name at least one (keyframes, 1fps, 5fps)"
    );
    ensure!(o.max_cameras >= 1, "--max-cameras must be at least 1");
    let window = o.window.unwrap_or(if o.quick { 3.0 } else { 20.0 });
    ensure!(
        window.is_finite() && window >= 1.0,
        "--window must be at least 1 second"
    );
    let window = Duration::from_secs_f64(window);
    let max_steps = o.max_steps.unwrap_or(if o.quick { 1 } else { 6 });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let prom = xueliang::telemetry::init_metrics("bench-e2e")?;
    let clip = camsim::resolve_clip(&o.clip, &camsim::default_cache_dir())
        .with_context(|| format!("preparing clip {:?}", o.clip))?;
    let template = xueliang::config_load::load(&o.config)
        .with_context(|| format!("loading the deployment {}", o.config.display()))?;
    let analyzer = &template.node.analyzer;
    eprintln!(
        "bench e2e{}: clip {}, policies {}, {:.0} s per step, up to {} steps per policy, {cores} cores",
        if o.quick { " --quick" } else { "" },
        o.clip,
        policies
            .iter()
            .map(|p| p.key.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        window.as_secs_f64(),
        max_steps
    );

    // Limits, on a quiet process (and again at the end: the better of the two is the limit,
    // so a burst of other work on the machine during one measurement does not lower it).
    let (decode, ort) = cpu_limits(&clip, analyzer, o.quick)?;
    let mut lim = Limits {
        decode,
        ort,
        broker: None,
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("xl-e2e-rt")
        .enable_all()
        .build()
        .context("building the pipeline runtime")?;
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("xl-e2e-sim")
        .enable_all()
        .build()
        .context("building the camera simulator's runtime")?;
    let mut tansu = start_broker()?;
    let brokers = tansu.bootstrap();
    let camsim = sim_rt
        .block_on(camsim::start(CamsimOptions::new(
            o.max_cameras,
            clip.clone(),
        )))
        .context("starting camsim")?;
    let (clip_fps, gop) = (camsim.fps(), camsim.clip_info().max_gop as f64);
    let topic = format!("bench-e2e-alerts-{}", std::process::id());
    let dep = Deployment::new(
        &o.config,
        &|i| camsim.url(i),
        o.max_cameras,
        &brokers,
        &topic,
    )?;
    let partitions = dep.settings.node.kafka.partitions;
    let log = Arc::new(AlertLog::default());
    let mut disp = pipeline::start_dispatcher(&rt, &dep.settings)?;
    pipeline::spawn_push_observer(&rt, &disp.hub, log.clone(), disp.shutdown.clone());
    let stop_observer = Arc::new(AtomicBool::new(false));
    let observer = pipeline::spawn_kafka_observer(
        &brokers,
        &topic,
        partitions,
        log.clone(),
        stop_observer.clone(),
    )?;
    eprintln!(
        "broker tansu at {brokers}, camsim at {} ({clip_fps:.0} fps, IDR every {gop:.0} frames); waiting for the dispatcher to join its group …",
        camsim.local_addr()
    );
    let t = Instant::now();
    while probe::Metrics::take(&prom).sum("xueliang_dispatcher_assigned_partitions") < 1.0 {
        ensure!(
            t.elapsed() < Duration::from_secs(60),
            "the dispatcher got no partition of {topic} within 60 s:\n{}",
            tansu.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The edge's fixed memory (model sessions, queues, buffers): an edge with no camera.
    // What it allocated stays with the process for the next edge to reuse, so the first
    // step's growth is what its cameras cost.
    let rss0 = proc::rss_mb();
    let bare = pipeline::Edge::start(&rt, &dep.step(0, Sampling::Keyframes))?;
    std::thread::sleep(Duration::from_secs(2));
    let rss_fixed_mb = proc::rss_mb() - rss0;
    bare.stop(&rt, Duration::from_secs(10));

    let mut ctx = Ctx {
        rt: &rt,
        camsim: &camsim,
        dep: &dep,
        prom: &prom,
        log: &log,
        broker_pid: tansu.pid(),
        clip_fps,
        gop,
        window,
        warmup: Duration::from_secs_f64(if o.quick { 1.5 } else { 4.0 }),
        live: std::io::stderr().is_terminal(),
        steps_done: 0,
    };
    let mut runs = Vec::new();
    for p in &policies {
        let est = estimate(p, &lim, clip_fps, gop, cores).min(o.max_cameras);
        let start = o
            .start
            .unwrap_or(if o.quick {
                1
            } else {
                ((est as f64 * 0.6).round() as usize).max(1)
            })
            .clamp(1, o.max_cameras);
        eprintln!(
            "policy {}: {:.2} samples per camera-second; the limits suggest ~{est} cameras, starting at {start}",
            p.key,
            p.samples_per_s(clip_fps, gop)
        );
        let steps = ctx.ramp(p, start, o.max_cameras, max_steps)?;
        runs.push((p.clone(), start, est, steps));
    }

    // Stop the node; then the broker's raw rate at the alerts' mean size.
    stop_observer.store(true, Ordering::Relaxed);
    let _ = observer.join();
    disp.shutdown.trigger();
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while disp.tasks.next().await.is_some() {}
        })
        .await;
    });
    sim_rt.block_on(camsim.stop());
    if !o.quick {
        let (decode, ort) = cpu_limits(&clip, analyzer, o.quick)?;
        lim.decode = lim.decode.best(&decode);
        lim.ort = limits::best_ort(&lim.ort, &ort);
    }
    let bytes = log.mean_bytes().unwrap_or(2048);
    let budget = if o.quick { 16 << 20 } else { 96 << 20 };
    let n = (budget / bytes.max(1)).clamp(if o.quick { 200 } else { 1000 }, 20_000);
    eprintln!("limits: broker raw produce / consume, {n} messages of {bytes} B …");
    let broker = limits::broker(&rt, &brokers, partitions, n, bytes)?;
    eprintln!(
        "  produce {:.0} msgs/s, consume {:.0} msgs/s",
        broker.produce_per_s, broker.consume_per_s
    );
    lim.broker = Some(broker);
    tansu.stop();

    let memory = Memory {
        fixed_mb: rss_fixed_mb,
        per_camera_mb: runs.first().and_then(|r| r.3.first()).map(|st| {
            (
                (st.rss_mb - st.rss_before_mb) / st.cameras as f64,
                st.cameras,
            )
        }),
        peak_mb: proc::peak_rss_mb(),
    };
    let summaries: Vec<PolicySummary> = runs
        .into_iter()
        .map(|(p, start, est, steps)| summarize(&p, start, est, steps, &lim, cores, clip_fps, gop))
        .collect();
    let out = report(&o, &summaries, &lim, &memory, cores, window, began)?;
    println!("{}", out.markdown);
    println!("{}", out.json);
    Ok(())
}

/// The raw decoder and ONNX Runtime limits, printed as they come.
fn cpu_limits(
    clip: &std::path::Path,
    analyzer: &xueliang_core::config::AnalyzerConfig,
    quick: bool,
) -> anyhow::Result<(DecodeLimit, Vec<OrtLimit>)> {
    eprintln!("limits: raw decoder on the clip …");
    let decode = limits::decode(clip, if quick { 1 } else { 3 })?;
    eprintln!(
        "  {} {}x{}: raw {:.0} keyframes / CPU-s, {:.0} frames / CPU-s decoding every frame",
        decode.decoder,
        decode.width,
        decode.height,
        decode.raw_keyframes_per_cpu_s,
        decode.raw_all_per_cpu_s
    );
    eprintln!(
        "limits: raw ONNX Runtime ({}, {} intra-op thread(s)) …",
        analyzer.model, analyzer.intra_threads
    );
    let ort = limits::ort(analyzer, if quick { 0.5 } else { 2.0 })?;
    for l in &ort {
        eprintln!(
            "  batch {}: {:.1} fps per session, {:.1} frames / CPU-s",
            l.batch, l.raw_fps, l.raw_per_cpu_s
        );
    }
    Ok((decode, ort))
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    p: &Policy,
    start: usize,
    estimate: usize,
    steps: Vec<Step>,
    l: &Limits,
    cores: usize,
    fps: f64,
    gop: f64,
) -> PolicySummary {
    let best = steps.iter().filter(|s| s.pass).max_by_key(|s| s.cameras);
    let max_cameras = best.map_or(0, |s| s.cameras);
    let reference = best
        .or_else(|| steps.iter().min_by_key(|s| s.cameras))
        .expect("a ramp runs at least one step");
    let fail = steps
        .iter()
        .filter(|s| !s.pass && s.cameras > max_cameras)
        .min_by_key(|s| s.cameras);
    let per_frame = p.samples_per_s(fps, gop) / fps;

    let bottleneck = match fail {
        None => format!(
            "not reached: every step passed, up to {max_cameras} cameras (raise --max-steps or --max-cameras)"
        ),
        Some(f) => {
            let decoder = if matches!(p.sampling, Sampling::Keyframes) {
                f.dropped_decoder as f64
            } else {
                f.dropped_decoder as f64 * per_frame
            };
            let what = if (f.streaming as usize) < f.cameras {
                "receive: not every camera was streaming".to_owned()
            } else if f.loss > LOSS_LIMIT {
                let parts = [
                    (
                        f.dropped_detector_busy as f64,
                        "detect (the detector queue was full)",
                    ),
                    (
                        f.dropped_queue_full as f64,
                        "analyzer intake (ingest's frame queue was full)",
                    ),
                    (decoder, "decode (the decoder was busy)"),
                    (
                        f.dropped_camsim as f64 * per_frame,
                        "receive (camsim dropped frames for a slow reader)",
                    ),
                ];
                parts
                    .iter()
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|x| x.1.to_owned())
                    .unwrap_or_default()
            } else {
                format!("latency: p99 over {P99_LIMIT_MS:.0} ms")
            };
            let top = f
                .cores
                .iter()
                .filter(|(k, _)| !probe::EXTERNAL.contains(&k.as_str()))
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, v)| format!("{k} {v:.2} cores"))
                .unwrap_or_default();
            format!(
                "{what}; at {} cameras the machine was {:.2} of {cores} cores busy, the node's largest share {top}",
                f.cameras, f.machine_busy_cores
            )
        }
    };

    let r = reference;
    let raw_decode = match p.sampling {
        Sampling::Keyframes => l.decode.raw_keyframes_per_cpu_s,
        _ => l.decode.raw_all_per_cpu_s,
    };
    let pos = |x: f64| (x.is_finite() && x > 0.0).then_some(x);
    let ratios = Ratios {
        decode: (r.frames_decoded > 0)
            .then(|| r.decode_per_cpu_s / raw_decode)
            .and_then(pos),
        detect: (r.frames_analysed > 0)
            .then(|| {
                l.ort_per_cpu_s(r.mean_batch.max(1.0))
                    .map(|raw| r.detect_per_cpu_s / raw)
            })
            .flatten()
            .and_then(pos),
        publish: l
            .broker
            .as_ref()
            .map(|b| r.alerts_published_per_s / b.produce_per_s),
        dispatch: l
            .broker
            .as_ref()
            .map(|b| r.alerts_consumed_per_s / b.consume_per_s),
    };
    PolicySummary {
        policy: p.key.clone(),
        max_cameras,
        samples_per_camera_s: p.samples_per_s(fps, gop),
        start,
        estimate,
        reference_cameras: r.cameras,
        reference_passed: r.pass,
        bottleneck,
        ratios,
        cpu_per_camera: Some(r.node_cores / r.cameras as f64),
        kafka_ms: r.kafka_ms.clone(),
        push_ms: r.push_ms.clone(),
        steps,
    }
}

/// Resident memory: the edge with no camera, the growth per camera over the run's first step
/// (the only one that starts from a process that has not yet held more cameras), the peak.
struct Memory {
    fixed_mb: f64,
    per_camera_mb: Option<(f64, usize)>,
    peak_mb: f64,
}

struct Output {
    markdown: String,
    json: String,
}

fn f1(x: Option<f64>) -> String {
    x.map_or("–".to_owned(), |v| format!("{v:.0}"))
}

fn f2(x: Option<f64>) -> String {
    x.map_or("–".to_owned(), |v| format!("{v:.2}"))
}

fn report(
    o: &Options,
    s: &[PolicySummary],
    l: &Limits,
    mem: &Memory,
    cores: usize,
    window: Duration,
    began: Instant,
) -> anyhow::Result<Output> {
    fn reference(p: &PolicySummary) -> Option<&Step> {
        p.steps
            .iter()
            .find(|st| st.cameras == p.reference_cameras && st.pass == p.reference_passed)
    }
    // Pooled latency at each policy's maximum sustained load.
    let (mut push, mut kafka, mut missing) = (Vec::new(), Vec::new(), 0);
    for p in s.iter().filter(|p| p.reference_passed) {
        if let Some(st) = reference(p) {
            push.extend_from_slice(&st.push_samples);
            kafka.extend_from_slice(&st.kafka_samples);
            missing += st.not_pushed;
        }
    }
    let pooled = Leg::of(&push, missing);
    let pooled_kafka = Leg::of(&kafka, 0);
    let worst = |f: &dyn Fn(&Ratios) -> Option<f64>, min: bool| {
        let v = s.iter().filter_map(|p| f(&p.ratios));
        if min {
            v.reduce(f64::min)
        } else {
            v.reduce(f64::max)
        }
    };
    let ratios = Ratios {
        decode: worst(&|r| r.decode, true),
        detect: worst(&|r| r.detect, true),
        publish: worst(&|r| r.publish, false),
        dispatch: worst(&|r| r.dispatch, false),
    };
    let max_streaming = s
        .iter()
        .flat_map(|p| p.steps.iter())
        .map(|st| st.streaming as usize)
        .max()
        .unwrap_or(0);

    // Markdown.
    let mut md = String::new();
    writeln!(md, "### Maximum cameras per node\n")?;
    writeln!(
        md,
        "| policy | max cameras | analysed fps | samples lost | e2e p50 / p95 / p99 (ms) | in Kafka p50 / p99 (ms) | node CPU / camera | decode ratio | detect ratio | bottleneck (first failed step) |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
    for p in s {
        let st = reference(p);
        writeln!(
            md,
            "| {} | **{}** | {} | {} | {} / {} / {} | {} / {} | {} cores | {} | {} | {} |",
            p.policy,
            p.max_cameras,
            st.map_or("–".into(), |x| format!("{:.1}", x.analysed_fps)),
            st.map_or("–".into(), |x| format!("{:.2} %", x.loss * 100.0)),
            f1(p.push_ms.p50),
            f1(p.push_ms.p95),
            f1(p.push_ms.p99),
            f1(p.kafka_ms.p50),
            f1(p.kafka_ms.p99),
            p.cpu_per_camera.map_or("–".into(), |v| format!("{v:.3}")),
            f2(p.ratios.decode),
            f2(p.ratios.detect),
            p.bottleneck
        )?;
    }
    writeln!(
        md,
        "\nMemory: {} per camera (growth over the run's first step{}), on top of {:.0} MiB for \
         the edge with no camera (model sessions, queues); peak resident {:.0} MiB.",
        mem.per_camera_mb
            .map_or("–".to_owned(), |(m, _)| format!("{m:.1} MiB")),
        mem.per_camera_mb
            .map_or(String::new(), |(_, n)| format!(", {n} cameras")),
        mem.fixed_mb,
        mem.peak_mb
    )?;
    writeln!(
        md,
        "\n### Where the latency goes (medians of the alerts at each policy's reference step, ms)\n"
    )?;
    writeln!(
        md,
        "| policy | cameras | capture → rules fired | → handed to publisher (evidence JPEG) | → in Kafka | → pushed to a desk | decode lag (mean) | detector queue wait (mean) | detector batch (mean, batch size) |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|")?;
    for p in s {
        if let Some(st) = reference(p) {
            let g = |k: &str| f1(st.segments_p50_ms.get(k).copied());
            let m = |k: &str| f1(st.stage_means_ms.get(k).copied());
            writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({:.1}) |",
                p.policy,
                st.cameras,
                g("1_capture_to_detected"),
                g("2_detected_to_published"),
                g("3_published_to_kafka"),
                g("4_kafka_to_pushed"),
                m("decode_lag"),
                m("detector_queue_wait"),
                m("detector_batch"),
                st.mean_batch
            )?;
        }
    }
    writeln!(md, "\n### Limits measured in the same run\n")?;
    writeln!(md, "| limit | figure |\n|---|---|")?;
    writeln!(
        md,
        "| raw decoder ({} {}×{}), keyframes | {:.0} per CPU-second |",
        l.decode.decoder, l.decode.width, l.decode.height, l.decode.raw_keyframes_per_cpu_s
    )?;
    writeln!(
        md,
        "| raw decoder, every frame | {:.0} per CPU-second |",
        l.decode.raw_all_per_cpu_s
    )?;
    for ort in &l.ort {
        writeln!(
            md,
            "| raw ONNX Runtime, batch {}, {} thread(s) | {:.1} fps per session, {:.1} per CPU-second |",
            ort.batch, ort.intra_threads, ort.raw_fps, ort.raw_per_cpu_s
        )?;
    }
    if let Some(b) = &l.broker {
        writeln!(
            md,
            "| broker produce ({} × {} B, {} partitions, acks=all) | {:.0} msgs/s |",
            b.messages, b.bytes, b.partitions, b.produce_per_s
        )?;
        writeln!(md, "| broker consume | {:.0} msgs/s |", b.consume_per_s)?;
    }
    writeln!(md, "\n### Steps\n")?;
    writeln!(
        md,
        "| policy | cameras | result | analysed fps | lost | e2e p50 / p99 (ms) | alerts | decode | detect | track+rules | publish+kafka | node | camsim | broker | machine busy |"
    )?;
    writeln!(
        md,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )?;
    for p in s {
        for st in &p.steps {
            let c = |k: &str| st.cores.get(k).copied().unwrap_or(0.0);
            writeln!(
                md,
                "| {} | {} | {} | {:.1} | {:.2} % | {} / {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} of {cores} ({:.2} other processes) |",
                st.policy,
                st.cameras,
                if st.pass {
                    "pass".to_owned()
                } else {
                    format!("fail: {}", st.why)
                },
                st.analysed_fps,
                st.loss * 100.0,
                f1(st.push_ms.p50),
                f1(st.push_ms.p99),
                st.alerts,
                c("decode"),
                c("detect"),
                c("track+rules"),
                c("publish") + c("kafka clients"),
                st.node_cores,
                c("camsim"),
                c("broker"),
                st.machine_busy_cores,
                st.other_processes_cores
            )?;
        }
    }
    writeln!(
        md,
        "\nCores per stage: thread CPU time over the window. node = every thread of this \
         process but camsim's (rtsp+async is the pipeline's tokio runtime: RTSP sessions, the \
         bridge, the dispatcher's consumer and API); the broker is its own process."
    )?;
    let p99_met = pooled.p99.is_some_and(|p| p < P99_LIMIT_MS);
    let ratio_met = [ratios.decode, ratios.detect]
        .iter()
        .all(|r| r.is_some_and(|r| r >= RATIO_TARGET));
    writeln!(
        md,
        "\nTargets: ≥ {SESSIONS_TARGET} camera sessions — most streaming in a step {max_streaming} ({}); \
         each stage ≥ {RATIO_TARGET}× its raw limit — decode {}, detect {} ({}); end-to-end p99 \
         < 1 s at the maximum sustained load — {} ms over {} alerts ({}).",
        if max_streaming >= SESSIONS_TARGET {
            "met"
        } else {
            "not met"
        },
        f2(ratios.decode),
        f2(ratios.detect),
        if ratio_met { "met" } else { "not met" },
        f1(pooled.p99),
        pooled.n,
        if p99_met { "met" } else { "not met" },
    )?;

    // Files.
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("creating the output directory {}", o.out.display()))?;
    let svg_cpu = o.out.join("cpu-per-stage.svg");
    let svg_cdf = o.out.join("latency-cdf.svg");
    let json_file = o.out.join("bench-e2e.json");
    let md_file = o.out.join("report.md");
    let panels: Vec<(String, Vec<Step>)> = s
        .iter()
        .map(|p| (p.policy.clone(), p.steps.clone()))
        .collect();
    std::fs::write(&svg_cpu, report::cpu_svg(&panels, cores))?;
    let mut curves = Vec::new();
    for (i, p) in s.iter().enumerate() {
        if let Some(st) = reference(p) {
            let mark = if st.pass { "" } else { " ✗" };
            curves.push(report::Curve {
                label: format!("{} @{}{mark}: pushed", p.policy, st.cameras),
                policy_index: i,
                dashed: false,
                values: st.push_samples.clone(),
            });
            curves.push(report::Curve {
                label: format!("{} @{}{mark}: in Kafka", p.policy, st.cameras),
                policy_index: i,
                dashed: true,
                values: st.kafka_samples.clone(),
            });
        }
    }
    std::fs::write(&svg_cdf, report::cdf_svg(&curves, P99_LIMIT_MS))?;
    std::fs::write(&md_file, &md)?;

    let per = |f: &dyn Fn(&PolicySummary) -> serde_json::Value| {
        s.iter()
            .map(|p| (p.policy.clone(), f(p)))
            .collect::<serde_json::Map<_, _>>()
    };
    let value = json!({
        "bench": "e2e",
        "quick": o.quick,
        "clip": o.clip,
        "config": o.config,
        "cores": cores,
        "window_s": window.as_secs_f64(),
        "elapsed_s": began.elapsed().as_secs_f64(),
        "max_cameras": per(&|p| json!(p.max_cameras)),
        "p50_ms": pooled.p50,
        "p95_ms": pooled.p95,
        "p99_ms": pooled.p99,
        "latency_alerts": pooled.n,
        "kafka_p50_ms": pooled_kafka.p50,
        "kafka_p95_ms": pooled_kafka.p95,
        "kafka_p99_ms": pooled_kafka.p99,
        "ratios": ratios,
        "cpu_per_camera": per(&|p| json!(p.cpu_per_camera)),
        "rss_mb_per_camera": mem.per_camera_mb.map(|m| m.0),
        "rss_fixed_mb": mem.fixed_mb,
        "rss_peak_mb": mem.peak_mb,
        "bottleneck": per(&|p| json!(p.bottleneck)),
        "limits": {
            "decode": l.decode,
            "ort": l.ort,
            "broker": l.broker,
        },
        "targets": {
            "sessions": {"target": SESSIONS_TARGET, "max_streaming": max_streaming,
                         "met": max_streaming >= SESSIONS_TARGET},
            "stage_ratio": {"target": RATIO_TARGET, "met": ratio_met},
            "p99_ms": {"target": P99_LIMIT_MS, "met": p99_met},
        },
        "policies": per(&|p| serde_json::to_value(p).unwrap_or_default()),
        "files": {
            "json": json_file, "markdown": md_file, "cpu_svg": svg_cpu, "latency_svg": svg_cdf,
        },
    });
    std::fs::write(&json_file, serde_json::to_string_pretty(&value)?)?;
    eprintln!(
        "wrote {}, {}, {}, {} ({:.0} s in all)",
        json_file.display(),
        md_file.display(),
        svg_cpu.display(),
        svg_cdf.display(),
        began.elapsed().as_secs_f64()
    );
    Ok(Output {
        markdown: md,
        json: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ort_rate_between_measured_batches() {
        let at = |batch, per_cpu_s| OrtLimit {
            batch,
            intra_threads: 1,
            raw_fps: per_cpu_s,
            raw_per_cpu_s: per_cpu_s,
        };
        let ort = [at(1, 40.0), at(4, 20.0)];
        // 25 ms per frame at batch 1, 50 ms at batch 4: 37.5 ms at 2.5.
        let mid = ort_per_cpu_s(&ort, 2.5).unwrap();
        assert!((mid - 1000.0 / 37.5).abs() < 1e-9, "{mid}");
        assert_eq!(ort_per_cpu_s(&ort, 1.0), Some(40.0));
        assert_eq!(ort_per_cpu_s(&ort, 0.5), Some(40.0));
        assert_eq!(ort_per_cpu_s(&ort, 8.0), Some(20.0));
        assert_eq!(ort_per_cpu_s(&[], 1.0), None);
    }
}
