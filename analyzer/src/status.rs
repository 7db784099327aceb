//! Camera status to the status topic: every `cluster.status_interval_ms` the edge writes one
//! record per camera it runs (state, reason, last frame, frame rates, active faults, node) to
//! the compacted `kafka.status_topic`, key = camera id. The dispatchers read it to show live
//! states at the desks, to notice a camera nobody runs (`camera_unwatched`), and to close
//! camera-fault incidents when the camera recovers.
//!
//! Design decisions:
//! - **Status is a sample, not a record of events**: a snapshot that cannot be sent is
//!   dropped and counted, and the next one replaces it. Unlike alerts, nothing is spooled — a
//!   status hours old is worth nothing. Hence a plain (not idempotent) producer with a short
//!   message timeout, and at most one snapshot waiting for the writer thread.
//! - **Its own thread and producer**, so neither a busy runtime nor the alert publisher's
//!   backlog (after an outage) delays a camera's status and makes it look unwatched.
//! - The topic is created by the writer (compacted) and retried while the broker is away.

use crate::health::HealthMonitor;
use anyhow::Context;
use chrono::Utc;
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};
use xueliang_core::CameraId;
use xueliang_core::config::KafkaConfig;
use xueliang_core::contract::{CAMERA_STATUS_SCHEMA_VERSION, CameraStatusV1, StreamState};
use xueliang_core::shutdown::Shutdown;
use xueliang_ingest::{CameraState, IngestHandle};

pub const STATUS_RECORDS: &str = "xueliang_edge_status_records_total";
pub const STATUS_SNAPSHOTS_DROPPED: &str = "xueliang_edge_status_snapshots_dropped_total";

struct Counting;

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        let outcome = if r.is_ok() { "delivered" } else { "failed" };
        metrics::counter!(STATUS_RECORDS, "outcome" => outcome).increment(1);
    }
}

/// The ingest state on the wire.
pub fn wire_state(s: CameraState) -> StreamState {
    match s {
        CameraState::Connecting => StreamState::Connecting,
        CameraState::Streaming => StreamState::Streaming,
        CameraState::Stalled => StreamState::Stalled,
        CameraState::Offline => StreamState::Offline,
        CameraState::AuthFailed => StreamState::AuthFailed,
        CameraState::UnsupportedCodec => StreamState::UnsupportedCodec,
        CameraState::Disabled => StreamState::Disabled,
    }
}

/// Builds each interval's snapshot: the frame rates are counter differences since the last.
pub struct StatusSampler {
    node: String,
    prev: HashMap<CameraId, (u64, u64, Instant)>,
}

impl StatusSampler {
    pub fn new(node: &str) -> StatusSampler {
        StatusSampler {
            node: node.to_string(),
            prev: HashMap::new(),
        }
    }

    /// The status of every camera ingest runs now.
    pub fn sample(
        &mut self,
        ingest: &IngestHandle,
        health: &HealthMonitor,
        now: Instant,
    ) -> Vec<CameraStatusV1> {
        // Counters by camera once, not a search per camera (an edge runs thousands).
        let counts: HashMap<CameraId, (u64, u64)> = ingest
            .stats()
            .cameras
            .into_iter()
            .map(|c| (c.camera, (c.received, c.emitted)))
            .collect();
        let wall = Utc::now();
        let mut seen = HashMap::with_capacity(self.prev.len());
        let out = ingest
            .states()
            .into_iter()
            .map(|st| {
                let (received, emitted) = counts.get(&st.id).copied().unwrap_or_default();
                // Frames per second since the previous sample (0 for a camera new to it).
                let (fps_received, fps_analysed) = match self.prev.get(&st.id) {
                    Some(&(r0, e0, t0)) if now > t0 => {
                        let dt = now.duration_since(t0).as_secs_f32();
                        (
                            received.saturating_sub(r0) as f32 / dt,
                            emitted.saturating_sub(e0) as f32 / dt,
                        )
                    }
                    _ => (0.0, 0.0),
                };
                seen.insert(st.id.clone(), (received, emitted, now));
                CameraStatusV1 {
                    schema_version: CAMERA_STATUS_SCHEMA_VERSION,
                    faults: health.active_faults(&st.id),
                    camera_id: st.id,
                    node: self.node.clone(),
                    state: wire_state(st.state),
                    reason: st.reason,
                    since: st.since,
                    last_frame_at: st.last_frame_at,
                    fps_received: round1(fps_received),
                    fps_analysed: round1(fps_analysed),
                    reconnects: st.reconnects,
                    observed_at: wall,
                }
            })
            .collect();
        self.prev = seen;
        out
    }
}

fn round1(v: f32) -> f32 {
    (v * 10.0).round() / 10.0
}

/// The writer thread's handle. Dropping it (or shutdown) ends the thread.
pub struct StatusWriter {
    tx: Option<SyncSender<Vec<CameraStatusV1>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StatusWriter {
    pub fn start(
        kafka: &KafkaConfig,
        interval: Duration,
        shutdown: Shutdown,
    ) -> anyhow::Result<Self> {
        let timeout_ms = (interval.as_millis() * 2).clamp(1000, 30_000).to_string();
        let producer: BaseProducer<Counting> = ClientConfig::new()
            .set("bootstrap.servers", &kafka.brokers)
            .set("acks", "1")
            .set("linger.ms", "20")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", &timeout_ms)
            .set("queue.buffering.max.messages", "200000")
            .create_with_context(Counting)
            .context("creating the camera-status producer")?;
        let (tx, rx) = sync_channel(1);
        let brokers = kafka.brokers.clone();
        let topic = kafka.status_topic.clone();
        let thread = std::thread::Builder::new()
            .name("camera-status".into())
            .spawn(move || write_loop(producer, &brokers, &topic, rx, shutdown))
            .context("spawning the camera-status thread")?;
        Ok(StatusWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a snapshot to the writer; dropped (and counted) when the previous one is still
    /// being written: the next one is due in an interval anyway.
    pub fn offer(&self, snapshot: Vec<CameraStatusV1>) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(snapshot) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!(STATUS_SNAPSHOTS_DROPPED, "reason" => "writer_busy").increment(1)
            }
            Err(TrySendError::Disconnected(_)) => {
                metrics::counter!(STATUS_SNAPSHOTS_DROPPED, "reason" => "writer_stopped")
                    .increment(1)
            }
        }
    }

    /// Ends the thread after it wrote what it holds (bounded by the producer's timeout).
    pub fn stop(mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StatusWriter {
    fn drop(&mut self) {
        self.tx.take();
    }
}

fn write_loop(
    producer: BaseProducer<Counting>,
    brokers: &str,
    topic: &str,
    rx: Receiver<Vec<CameraStatusV1>>,
    shutdown: Shutdown,
) {
    let mut topic_ready = false;
    loop {
        let snapshot = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(s) => s,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                producer.poll(Duration::ZERO);
                if shutdown.is_triggered() {
                    break;
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if !topic_ready {
            match xueliang_cluster::topics::ensure_compacted(
                brokers,
                topic,
                1,
                Duration::from_secs(3),
            ) {
                Ok(()) => topic_ready = true,
                Err(e) => {
                    tracing::warn!(topic, error = %format!("{e:#}"), "cannot create the camera-status topic yet; retrying with the next snapshot");
                    metrics::counter!(STATUS_SNAPSHOTS_DROPPED, "reason" => "no_topic")
                        .increment(1);
                    continue;
                }
            }
        }
        for s in &snapshot {
            let value = s.to_json();
            let key = s.camera_id.as_str();
            if producer
                .send(BaseRecord::to(topic).key(key).payload(&value))
                .is_err()
            {
                metrics::counter!(STATUS_RECORDS, "outcome" => "queue_full").increment(1);
            }
        }
        producer.poll(Duration::ZERO);
    }
    let _ = producer.flush(Duration::from_secs(1));
}
