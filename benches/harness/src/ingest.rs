//! Measurements of ingest's own cost, for `xueliang-bench ingest|decode` and capacity
//! planning. Not tests: nothing here asserts a speed.
//!
//! - [`bench_decode`]: frames per CPU-second of the live decoder on a clip, against a bare
//!   `parse ! decoder ! fakesink` baseline fed the same way in the same run, for keyframes-only,
//!   every frame, and N fps (decode all, scale+convert only the sampled ones).
//! - [`bench_receive`]: CPU per received frame of N RTSP sessions against an in-process camsim,
//!   measured on the client's own threads only (the server runs on separate threads), with or
//!   without keyframe decoding.
//!
//! CPU time is read per thread from `/proc/self/task/*/schedstat` (nanoseconds; Linux only;
//! `xueliang_testkit::proc`), so other processes on a shared machine do not inflate the
//! figures, although they do contend for caches and cores.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use gst::prelude::*;
use gstreamer as gst;
use serde::Serialize;
use tokio::sync::mpsc;
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, Sampling};
use xueliang_core::shutdown::Shutdown;

use xueliang_camsim::{self as camsim, CamsimOptions, h264};
use xueliang_ingest::decode::{
    Codec, DecodeError, DecoderOptions, EncodedUnit, StreamDecoder, UnitInput, UnitSink,
};
use xueliang_ingest::frame::CaptureClock;
use xueliang_ingest::session::SessionTuning;
use xueliang_ingest::stats::CameraCounters;
use xueliang_ingest::supervisor::{Ingest, IngestOptions};
use xueliang_testkit::proc::{thread_cpu, threads_cpu};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("bench clip {path}: {what}")]
    Clip { path: PathBuf, what: String },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("bench setup: {0}")]
    Setup(String),
}

pub use xueliang_camsim::camera_config;

/// One measured decode variant.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeVariant {
    /// e.g. `baseline_keyframes`, `pipeline_keyframes`, `pipeline_fps1`.
    pub name: String,
    /// Access units pushed into the decoder.
    pub pushed: u64,
    /// Pictures emitted (BGR frames for the pipeline; decoded pictures for the baseline).
    pub emitted: u64,
    pub cpu_s: f64,
    pub wall_s: f64,
    /// Pushed units per CPU-second: the comparable throughput figure.
    pub units_per_cpu_s: f64,
}

/// Result of [`bench_decode`].
#[derive(Debug, Clone, Serialize)]
pub struct DecodeBench {
    pub clip: PathBuf,
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub decoder: String,
    pub output: (u32, u32),
    pub variants: Vec<DecodeVariant>,
    /// The first picture the keyframe pipeline emitted, for timing what consumes it (the
    /// detector's pre-processor).
    #[serde(skip)]
    pub sample: Option<xueliang_core::picture::Picture>,
}

/// The clip's access units (Annex B) with their keyframe flag, split by its codec.
fn load_units(clip: &Path, codec: Codec) -> Result<Vec<(Vec<u8>, bool)>, BenchError> {
    let data = std::fs::read(clip).map_err(|e| BenchError::Clip {
        path: clip.into(),
        what: e.to_string(),
    })?;
    let annexb = |nals: &[&[u8]]| {
        let mut v = Vec::new();
        for n in nals {
            v.extend_from_slice(&[0, 0, 0, 1]);
            v.extend_from_slice(n);
        }
        v
    };
    let nals = h264::nal_units(&data);
    let units: Vec<(Vec<u8>, bool)> = match codec {
        Codec::H264 => h264::access_units(&nals)
            .into_iter()
            .map(|au| (annexb(&au.nals), au.is_idr()))
            .collect(),
        Codec::H265 => camsim::h265::access_units(&nals)
            .into_iter()
            .map(|au| (annexb(&au.nals), au.is_irap()))
            .collect(),
    };
    if !units.first().is_some_and(|u| u.1) {
        return Err(BenchError::Clip {
            path: clip.into(),
            what: format!("not a {codec:?} Annex B stream starting with a keyframe"),
        });
    }
    Ok(units)
}

/// The bare baseline: feed pad → parser → decoder (1 thread) → fakesink.
struct Baseline {
    pipeline: gst::Pipeline,
    feed: gst::Pad,
    decoded: Arc<AtomicU64>,
}

impl Baseline {
    fn new(codec: Codec, decoder: &'static str) -> Result<Baseline, BenchError> {
        let parse = xueliang_ingest::decode::make(codec.parser())?;
        let dec = xueliang_ingest::decode::make(decoder)?;
        if decoder.starts_with("avdec") {
            dec.set_property("max-threads", 1i32);
        }
        let sink = xueliang_ingest::decode::make("fakesink")?;
        sink.set_property("sync", false);
        sink.set_property("async", false);
        let pipeline = gst::Pipeline::new();
        let setup = |e: &dyn std::fmt::Display| BenchError::Setup(e.to_string());
        pipeline
            .add_many([&parse, &dec, &sink])
            .map_err(|e| setup(&e))?;
        gst::Element::link_many([&parse, &dec, &sink]).map_err(|e| setup(&e))?;
        let decoded = Arc::new(AtomicU64::new(0));
        let counter = decoded.clone();
        dec.static_pad("src")
            .ok_or_else(|| BenchError::Setup("decoder without src pad".into()))?
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                counter.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| setup(&e))?;
        let feed = gst::Pad::builder(gst::PadDirection::Src).build();
        feed.link(&parse.static_pad("sink").expect("parser sink pad"))
            .map_err(|e| setup(&format!("{e:?}")))?;
        feed.set_active(true).map_err(|e| setup(&e))?;
        feed.push_event(gst::event::StreamStart::new("bench"));
        feed.push_event(gst::event::Caps::new(&codec.caps()));
        feed.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
            gst::ClockTime,
        >::new()));
        Ok(Baseline {
            pipeline,
            feed,
            decoded,
        })
    }

    fn push(&self, data: Vec<u8>, pts: Duration, keyframe: bool) {
        let mut b = gst::Buffer::from_mut_slice(data);
        {
            let b = b.get_mut().expect("new buffer");
            b.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
            if !keyframe {
                b.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        let _ = self.feed.push(b);
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// The sequence of (unit index, pts) a variant feeds: `loops` passes over the clip, pts
/// continuing across passes.
fn schedule(
    units: &[(Vec<u8>, bool)],
    loops: usize,
    keyframes_only: bool,
) -> Vec<(usize, Duration)> {
    let frame = Duration::from_millis(40);
    let mut out = Vec::new();
    for l in 0..loops {
        for (i, u) in units.iter().enumerate() {
            if !keyframes_only || u.1 {
                out.push((i, frame * (l * units.len() + i) as u32));
            }
        }
    }
    out
}

/// Measured passes per variant (after one warm-up pass), taken in turns.
const DECODE_ROUNDS: usize = 3;

/// Measures decode throughput on `clip` (H.264 or H.265 Annex B, e.g. a camsim preset): each
/// keyframe variant decodes `loops` passes over the clip's keyframes per round, each all-frames
/// variant one pass over every frame, for [`DECODE_ROUNDS`] measured rounds.
pub fn bench_decode(
    clip: &Path,
    loops: usize,
    opts: &DecoderOptions,
) -> Result<DecodeBench, BenchError> {
    xueliang_ingest::decode::init()?;
    let info = camsim::PacketizedClip::load(clip)
        .map_err(|e| BenchError::Clip {
            path: clip.into(),
            what: e.to_string(),
        })?
        .info()
        .clone();
    let units = load_units(clip, info.codec)?;
    let decoder = xueliang_ingest::decode::decoder_element(info.codec, opts.accel);
    let mut variants = Vec::new();
    let mut output = (0, 0);
    let mut sample = None;
    for (mode, loops) in [("keyframes", loops.max(1)), ("all", 1)] {
        let plan = schedule(&units, loops, mode == "keyframes");
        // Every variant's decoder exists for the whole mode and runs one unmeasured warm-up
        // pass (first allocations, page faults); then the variants take turns, pass after
        // pass, so a noisy neighbour or a frequency change hits them alike.
        let base = Baseline::new(info.codec, decoder)?;
        let samplings: Vec<(String, Sampling)> = if mode == "keyframes" {
            vec![("pipeline_keyframes".into(), Sampling::Keyframes)]
        } else {
            vec![
                ("pipeline_all".into(), Sampling::All),
                ("pipeline_fps1".into(), Sampling::Fps(1.0)),
            ]
        };
        let mut pipes = Vec::new();
        for (name, sampling) in samplings {
            let camera = CameraId::new("bench").expect("valid id");
            let (tx, rx) = mpsc::channel(plan.len().max(1));
            let dec = StreamDecoder::new(
                &camera,
                info.codec,
                sampling,
                opts,
                CameraCounters::new(&camera),
                tx,
            )?;
            pipes.push((name, dec, rx));
        }
        let span = plan.last().map_or(Duration::ZERO, |p| p.1) + Duration::from_millis(40);
        let mut totals: Vec<DecodeVariant> = std::iter::once(format!("baseline_{mode}"))
            .chain(pipes.iter().map(|p| p.0.clone()))
            .map(|name| DecodeVariant {
                name,
                pushed: 0,
                emitted: 0,
                cpu_s: 0.0,
                wall_s: 0.0,
                units_per_cpu_s: 0.0,
            })
            .collect();
        for round in 0..=DECODE_ROUNDS {
            let offset = span * round as u32;
            let measured = round > 0;
            let add = |v: &mut DecodeVariant, c0: Duration, w0: Instant, emitted: u64| {
                if measured {
                    v.cpu_s += (thread_cpu() - c0).as_secs_f64();
                    v.wall_s += w0.elapsed().as_secs_f64();
                    v.pushed += plan.len() as u64;
                    v.emitted += emitted;
                }
            };
            let (c0, w0, d0) = (
                thread_cpu(),
                Instant::now(),
                base.decoded.load(Ordering::Relaxed),
            );
            for &(i, pts) in &plan {
                base.push(units[i].0.clone(), pts + offset, units[i].1);
            }
            add(
                &mut totals[0],
                c0,
                w0,
                base.decoded.load(Ordering::Relaxed) - d0,
            );
            for (k, (_, dec, rx)) in pipes.iter_mut().enumerate() {
                let (c0, w0) = (thread_cpu(), Instant::now());
                let mut emitted = 0;
                for &(i, pts) in &plan {
                    let _ = dec.push(EncodedUnit {
                        data: units[i].0.clone(),
                        pts: pts + offset,
                        keyframe: units[i].1,
                        received_at: Instant::now(),
                        captured_at: Utc::now(),
                        capture_clock: CaptureClock::Receive,
                    });
                    while let Ok(f) = rx.try_recv() {
                        output = (f.picture.width(), f.picture.height());
                        if sample.is_none() {
                            sample = Some(f.picture.clone());
                        }
                        emitted += 1;
                    }
                }
                add(&mut totals[k + 1], c0, w0, emitted);
            }
        }
        for v in &mut totals {
            v.units_per_cpu_s = if v.cpu_s > 0.0 {
                v.pushed as f64 / v.cpu_s
            } else {
                0.0
            };
        }
        variants.extend(totals);
    }
    Ok(DecodeBench {
        clip: clip.into(),
        codec: info.codec,
        width: info.width,
        height: info.height,
        decoder: decoder.to_string(),
        output,
        variants,
        sample,
    })
}

/// What [`bench_receive`] runs.
#[derive(Debug, Clone)]
pub struct ReceiveBenchOptions {
    pub sessions: usize,
    pub clip: PathBuf,
    /// Measured time, after `warmup`.
    pub duration: Duration,
    pub warmup: Duration,
    /// Also decode keyframes (to 416×416 BGR, the production path) instead of discarding
    /// received frames after the sampler.
    pub decode_keyframes: bool,
    /// Decoder threads when decoding.
    pub decoder_workers: usize,
}

/// Result of [`bench_receive`].
#[derive(Debug, Clone, Serialize)]
pub struct ReceiveBench {
    pub sessions: usize,
    pub streaming: usize,
    pub decode_keyframes: bool,
    pub seconds: f64,
    pub frames_received: u64,
    pub frames_emitted: u64,
    /// Frames dropped inside ingest (decoder busy, queue full, waiting for a keyframe).
    pub frames_dropped: u64,
    pub bytes_received: u64,
    /// Client CPU (session runtime threads) per received frame.
    pub receive_cpu_us_per_frame: f64,
    /// Decoder threads' CPU per emitted (decoded, scaled) frame, when decoding.
    pub decode_cpu_us_per_frame: Option<f64>,
    /// Client CPU in cores (receive + decode) over the measured window.
    pub client_cores: f64,
    /// The in-process camsim's CPU in cores, for reference.
    pub server_cores: f64,
    pub frames_per_second: f64,
}

/// Counts units and drops them: receive cost without decode.
struct Discard(Arc<AtomicU64>);

struct DiscardInput(Arc<AtomicU64>);

impl UnitSink for Discard {
    fn open(
        &self,
        _: &CameraId,
        _: Codec,
        _: Sampling,
        _: Arc<CameraCounters>,
    ) -> Box<dyn UnitInput> {
        Box::new(DiscardInput(self.0.clone()))
    }
}

impl UnitInput for DiscardInput {
    fn try_push(&mut self, _unit: EncodedUnit) -> Result<(), EncodedUnit> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Runs `sessions` keyframes-sampled RTSP sessions against an in-process camsim (one camera
/// per session) and measures the client's CPU. Builds its own runtimes: call it from a plain
/// thread (or `spawn_blocking`), not from inside an async task.
pub fn bench_receive(opts: &ReceiveBenchOptions) -> Result<ReceiveBench, BenchError> {
    let setup = |e: &dyn std::fmt::Display| BenchError::Setup(e.to_string());
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("xl-bench-srv")
        .enable_all()
        .build()
        .map_err(|e| setup(&e))?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("xl-bench-rx")
        .enable_all()
        .build()
        .map_err(|e| setup(&e))?;
    let sim = server_rt
        .block_on(camsim::start(CamsimOptions::new(
            opts.sessions.max(1),
            opts.clip.clone(),
        )))
        .map_err(|e| setup(&e))?;
    let cameras: Vec<CameraConfig> = (0..opts.sessions)
        .map(|i| camera_config(&format!("bench-{i}"), &sim.url(i), Sampling::Keyframes))
        .collect();
    let shutdown = Shutdown::new();
    let (tx, mut rx) = mpsc::channel(1024);
    let drain = std::thread::spawn(move || {
        let mut n = 0u64;
        while rx.blocking_recv().is_some() {
            n += 1;
        }
        n
    });
    let handle = client_rt.block_on(async {
        let tuning = SessionTuning {
            connect_timeout: Duration::from_secs(30),
            ..SessionTuning::default()
        };
        if opts.decode_keyframes {
            let o = IngestOptions {
                decoder_workers: opts.decoder_workers,
                decoder: DecoderOptions {
                    keep_source: false,
                    ..DecoderOptions::default()
                },
                decoder_queue_per_camera: 8,
                session: tuning,
            };
            Ingest::start_with(o, cameras, tx, shutdown.clone())
        } else {
            drop(tx);
            Ok(Ingest::start_with_sink(
                tuning,
                cameras,
                Arc::new(Discard(Arc::new(AtomicU64::new(0)))),
                shutdown.clone(),
            ))
        }
    })?;
    std::thread::sleep(opts.warmup);
    let snap0 = handle.stats().total;
    let (rx0, dec0, srv0, t0) = (
        threads_cpu("xl-bench-rx"),
        threads_cpu("xl-decode"),
        threads_cpu("xl-bench-srv"),
        Instant::now(),
    );
    std::thread::sleep(opts.duration);
    let snap1 = handle.stats().total;
    let (rx1, dec1, srv1, secs) = (
        threads_cpu("xl-bench-rx"),
        threads_cpu("xl-decode"),
        threads_cpu("xl-bench-srv"),
        t0.elapsed().as_secs_f64(),
    );
    let streaming = handle
        .states()
        .iter()
        .filter(|s| s.state == xueliang_ingest::CameraState::Streaming)
        .count();
    client_rt.block_on(handle.stop());
    let _ = drain.join();
    server_rt.block_on(sim.stop());
    let frames = snap1.received - snap0.received;
    let emitted = snap1.emitted - snap0.emitted;
    let rx_cpu = (rx1 - rx0).as_secs_f64();
    let dec_cpu = (dec1 - dec0).as_secs_f64();
    Ok(ReceiveBench {
        sessions: opts.sessions,
        streaming,
        decode_keyframes: opts.decode_keyframes,
        seconds: secs,
        frames_received: frames,
        frames_emitted: emitted,
        frames_dropped: snap1.dropped - snap0.dropped,
        bytes_received: snap1.bytes - snap0.bytes,
        receive_cpu_us_per_frame: if frames > 0 {
            rx_cpu * 1e6 / frames as f64
        } else {
            0.0
        },
        decode_cpu_us_per_frame: (opts.decode_keyframes && emitted > 0)
            .then(|| dec_cpu * 1e6 / emitted as f64),
        client_cores: (rx_cpu + dec_cpu) / secs,
        server_cores: (srv1 - srv0).as_secs_f64() / secs,
        frames_per_second: frames as f64 / secs,
    })
}
