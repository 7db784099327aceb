//! The limits each stage is compared with, measured in the same run on the same machine (the
//! decoder and ONNX Runtime at the start and again at the end, keeping the better figure):
//!
//! - **decoder**: `crate::ingest::bench_decode` on the clip camsim serves — a bare
//!   `parse ! avdec_h264 ! fakesink` fed the same access units (keyframes only, and every
//!   frame), in units per CPU-second of the decoding thread;
//! - **ONNX Runtime**: the model's bare `session.run` (`Detector::run_raw`) at batch 1 and at
//!   the configured `batch_max`, with the configured intra-op threads, on real frames of the
//!   street clip — frames per wall second of one session and per CPU-second;
//! - **broker**: N messages of the pipeline's mean alert size produced with the analyzer's
//!   producer settings (idempotent, acks=all, linger 5 ms) into a fresh topic, then read back
//!   by a bare consumer (partitions assigned, no group), in messages per second.
//!
//! The broker itself is tansu started as the integration tests start it (binary from
//! `$XUELIANG_TANSU` or the cache, SQLite storage in a temporary directory, a free loopback
//! port), stopped at the end.

use anyhow::{Context, anyhow, bail, ensure};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer as _, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use xueliang_core::config::AnalyzerConfig;
use xueliang_testkit::proc::live_threads_cpu;

// ---- decoder --------------------------------------------------------------------------------

/// Raw decoder and decode-stage throughput on the clip, units per CPU-second of one thread.
#[derive(Clone, Debug, Serialize)]
pub struct DecodeLimit {
    pub decoder: String,
    pub width: u32,
    pub height: u32,
    pub raw_keyframes_per_cpu_s: f64,
    pub raw_all_per_cpu_s: f64,
    pub stage_keyframes_per_cpu_s: f64,
    pub stage_all_per_cpu_s: f64,
    pub stage_fps1_per_cpu_s: f64,
}

impl DecodeLimit {
    /// Each figure at its best of two measurements.
    pub fn best(&self, other: &DecodeLimit) -> DecodeLimit {
        DecodeLimit {
            raw_keyframes_per_cpu_s: self
                .raw_keyframes_per_cpu_s
                .max(other.raw_keyframes_per_cpu_s),
            raw_all_per_cpu_s: self.raw_all_per_cpu_s.max(other.raw_all_per_cpu_s),
            stage_keyframes_per_cpu_s: self
                .stage_keyframes_per_cpu_s
                .max(other.stage_keyframes_per_cpu_s),
            stage_all_per_cpu_s: self.stage_all_per_cpu_s.max(other.stage_all_per_cpu_s),
            stage_fps1_per_cpu_s: self.stage_fps1_per_cpu_s.max(other.stage_fps1_per_cpu_s),
            ..self.clone()
        }
    }
}

pub fn decode(clip: &Path, loops: usize) -> anyhow::Result<DecodeLimit> {
    use crate::ingest::bench_decode;
    use xueliang_ingest::decode::DecoderOptions;
    let r = bench_decode(clip, loops.max(1), &DecoderOptions::default())
        .with_context(|| format!("measuring the raw decoder on {}", clip.display()))?;
    let get = |name: &str| {
        r.variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.units_per_cpu_s)
            .ok_or_else(|| anyhow!("variant {name} missing from the decode bench"))
    };
    Ok(DecodeLimit {
        decoder: r.decoder.clone(),
        width: r.width,
        height: r.height,
        raw_keyframes_per_cpu_s: get("baseline_keyframes")?,
        raw_all_per_cpu_s: get("baseline_all")?,
        stage_keyframes_per_cpu_s: get("pipeline_keyframes")?,
        stage_all_per_cpu_s: get("pipeline_all")?,
        stage_fps1_per_cpu_s: get("pipeline_fps1")?,
    })
}

// ---- ONNX Runtime ---------------------------------------------------------------------------

/// Bare `session.run` at one batch size.
#[derive(Clone, Debug, Serialize)]
pub struct OrtLimit {
    pub batch: usize,
    pub intra_threads: usize,
    /// Frames per wall second of one session.
    pub raw_fps: f64,
    /// Frames per CPU-second (all threads of the process: ORT may use helpers).
    pub raw_per_cpu_s: f64,
}

/// Each batch size's figures at their best of two measurements.
pub fn best_ort(a: &[OrtLimit], b: &[OrtLimit]) -> Vec<OrtLimit> {
    a.iter()
        .map(|x| match b.iter().find(|y| y.batch == x.batch) {
            Some(y) => OrtLimit {
                raw_fps: x.raw_fps.max(y.raw_fps),
                raw_per_cpu_s: x.raw_per_cpu_s.max(y.raw_per_cpu_s),
                ..x.clone()
            },
            None => x.clone(),
        })
        .collect()
}

pub const VTEST_AVI: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

pub fn ort(cfg: &AnalyzerConfig, seconds: f64) -> anyhow::Result<Vec<OrtLimit>> {
    use xueliang_analyzer::detector::{Detector, DetectorOptions, PictureRef};
    use xueliang_analyzer::model::resolve_model;
    use xueliang_ingest::decode::{FileDecodeOptions, FileDecoder};

    let model = resolve_model(&cfg.model, None)?;
    let opts = DetectorOptions::from_config(cfg);
    let video = Path::new(VTEST_AVI);
    let frames: Vec<_> = FileDecoder::open(
        video,
        FileDecodeOptions {
            from_s: Some(20.0),
            to_s: Some(22.0),
            size: Some((model.spec.input_size[0], model.spec.input_size[1])),
            ..Default::default()
        },
    )
    .with_context(|| format!("decoding {} (Debian package opencv-doc)", video.display()))?
    .collect::<Result<_, _>>()?;
    ensure!(
        frames.len() >= opts.max_batch,
        "need {} frames of {VTEST_AVI}, got {}",
        opts.max_batch,
        frames.len()
    );
    let mut det = Detector::new(&model, &opts)?;
    let window = Duration::from_secs_f64(seconds.max(0.3));
    let mut batches = vec![1, opts.max_batch];
    batches.dedup();
    let mut out = Vec::new();
    for batch in batches {
        let refs: Vec<PictureRef<'_>> = frames[..batch]
            .iter()
            .map(|f| PictureRef::bgr(f.width, f.height, &f.bgr))
            .collect();
        // Warm-up; also fills the input buffer run_raw reads.
        det.detect_batch(&refs)?;
        det.run_raw(batch)?;
        let (t0, c0, mut n) = (Instant::now(), live_threads_cpu().as_secs_f64(), 0usize);
        while t0.elapsed() < window {
            det.run_raw(batch)?;
            n += batch;
        }
        let (wall, cpu) = (
            t0.elapsed().as_secs_f64(),
            live_threads_cpu().as_secs_f64() - c0,
        );
        out.push(OrtLimit {
            batch,
            intra_threads: opts.intra_threads,
            raw_fps: n as f64 / wall,
            raw_per_cpu_s: n as f64 / cpu.max(1e-6),
        });
    }
    Ok(out)
}

use crate::tansu::{Deliveries, DeliveryContext};
pub use crate::tansu::{create_topic, start_broker};

/// A bare consumer reading every partition of `topic` from the start, without a group
/// (no join delay, nothing committed).
pub fn assigned_consumer(
    brokers: &str,
    topic: &str,
    partitions: u32,
    fetch_wait_ms: Option<u32>,
) -> anyhow::Result<BaseConsumer> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("group.id", format!("bench-e2e-{topic}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    if let Some(ms) = fetch_wait_ms {
        cfg.set("fetch.wait.max.ms", ms.to_string());
    }
    let c: BaseConsumer = cfg
        .create()
        .with_context(|| format!("creating a consumer for {brokers}"))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| anyhow!("assigning {topic}/{p}: {e}"))?;
    }
    c.assign(&tpl)
        .with_context(|| format!("assigning the partitions of {topic}"))?;
    Ok(c)
}

/// The broker's raw produce and consume rates for messages of `bytes`.
#[derive(Clone, Debug, Serialize)]
pub struct BrokerLimit {
    pub messages: usize,
    pub bytes: usize,
    pub partitions: u32,
    pub produce_per_s: f64,
    pub consume_per_s: f64,
}

pub fn broker(
    rt: &tokio::runtime::Runtime,
    brokers: &str,
    partitions: u32,
    n: usize,
    bytes: usize,
) -> anyhow::Result<BrokerLimit> {
    let topic = format!("bench-e2e-raw-{}", std::process::id());
    rt.block_on(create_topic(brokers, &topic, partitions))?;
    let counts = Arc::new(Deliveries::default());
    let producer: ThreadedProducer<DeliveryContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set(
            "message.max.bytes",
            (bytes + 64 * 1024).max(1_000_000).to_string(),
        )
        .create_with_context(DeliveryContext(counts.clone()))
        .with_context(|| format!("creating the raw producer for {brokers}"))?;
    // Random payload (xorshift), so that no layer could compress it away.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let payload: Vec<u8> = (0..bytes.max(1))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let keys: Vec<String> = (0..64).map(|i| format!("cam-{i}")).collect();
    let send = |i: usize| -> anyhow::Result<()> {
        let mut rec = BaseRecord::to(&topic)
            .key(&keys[i % keys.len()])
            .payload(&payload);
        loop {
            match producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((e, _)) => bail!("producing to {topic}: {e}"),
            }
        }
    };
    // One message first: connection, metadata and the idempotent producer id stay out of
    // the timing.
    send(0)?;
    producer
        .flush(Duration::from_secs(30))
        .with_context(|| format!("flushing the first message to {topic}"))?;
    let t0 = Instant::now();
    for i in 1..n.max(2) {
        send(i)?;
    }
    producer
        .flush(Duration::from_secs(120))
        .with_context(|| format!("flushing {n} messages to {topic}"))?;
    let produce_s = t0.elapsed().as_secs_f64();
    let (ok, failed) = (
        counts.ok.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed),
    );
    let total = n.max(2);
    ensure!(
        ok == total as u64 && failed == 0,
        "the broker acknowledged {ok} of {total} messages ({failed} failed)"
    );

    let c = assigned_consumer(brokers, &topic, partitions, None)?;
    let (start, mut got, mut first) = (Instant::now(), 0usize, None);
    while got < total {
        ensure!(
            start.elapsed() < Duration::from_secs(120),
            "the raw consumer read only {got} of {total} messages of {topic} in 120 s"
        );
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                got += usize::from(m.payload().is_some());
            }
            Some(Err(e)) => tracing::warn!(error = %e, "raw consumer"),
            None => {}
        }
    }
    let consume_s = first.map_or(1e-6, |f: Instant| f.elapsed().as_secs_f64().max(1e-6));
    Ok(BrokerLimit {
        messages: total,
        bytes,
        partitions,
        produce_per_s: (total - 1) as f64 / produce_s.max(1e-6),
        // From the first message received: the fetch of the first batch is not counted.
        consume_per_s: (total - 1) as f64 / consume_s,
    })
}
