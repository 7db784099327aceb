//! Publishing alerts to Kafka: Alert v1 JSON, key = camera id, never dropped silently.
//!
//! ```text
//! rules ─▶ AlertSender ──(bounded channel, blocks when full)──▶ publisher thread
//!                                                               │ 1. append to spool, fsync
//!                                                               │ 2. send from the spool, in order
//!                                                               │ 3. commit after the broker acks
//!                                                               ▼
//!                                          rdkafka (idempotent, acks=all) ─▶ xueliang.alerts
//! ```
//!
//! Design decisions:
//! - **Spool first, always.** Every alert is appended to the on-disk spool ([`spool`]) before
//!   it is sent, and leaves it only once Kafka acknowledged it. The alternative — spool only
//!   while the broker is down — needs a hand-over between "sending directly" and "sending from
//!   the spool" at the moment the broker fails, which is exactly when in-flight messages are
//!   in doubt; getting per-camera order right across that switch is subtle, and alerts in
//!   librdkafka's memory would die with the process. With one log and one reader, order is
//!   the log's order in every state, a crash or restart replays what was not acknowledged,
//!   and the cost is one `fdatasync` per batch of alerts (alerts are events, not frames: tens
//!   per second at most per node, far below what a batched fsync sustains).
//! - **At-least-once, idempotent where the broker allows.** librdkafka's idempotent producer
//!   removes duplicates from its own retries. An alert can still arrive twice when the process
//!   or the producer restarts after the broker stored it but before the acknowledgement was
//!   recorded; the alert id (UUID v7) is the consumer's idempotency key for that.
//! - **Full spool = backpressure + operator alert.** When the spool reaches
//!   `analyzer.spool_max_mb`, the alert that does not fit is held, the channel fills, and
//!   [`AlertSender::send`] blocks its caller; `xueliang_spool_full` is 1, an ERROR is logged
//!   and [`PublisherHealth::spool_full`] is true until the broker has drained the spool to
//!   half (hysteresis, so the signal does not flap). Nothing is evicted.
//! - **Own thread.** Spool I/O (fsync) and the send loop run on a dedicated thread with a
//!   small current-thread runtime, so they never stall the node's async runtime.
//! - **Shutdown drains with a deadline.** After [`Shutdown`] fires, the publisher keeps
//!   delivering until its input closes and the spool is empty, or `drain_timeout` passes;
//!   whatever is left stays in the spool for the next start.

mod kafka;
pub mod metrics;
pub mod spool;
mod worker;

pub use kafka::ProducerSettings;
pub use spool::{Spool, SpoolError, SpoolStats};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use xueliang_core::CameraId;
use xueliang_core::config::{KafkaConfig, NodeConfig};
use xueliang_core::contract::AlertV1;
use xueliang_core::shutdown::Shutdown;

/// Largest Alert v1 JSON accepted: below Kafka's default `message.max.bytes` (1 000 000)
/// with room for the key and the record overhead. A 200 KB snapshot is ≈ 267 KB of base64.
pub const MAX_ALERT_BYTES: usize = 900_000;

/// How the publisher runs; [`PublisherOptions::from_node`] fills it from `xueliang.toml`.
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// Directory of the spool (`<data_dir>/spool`).
    pub spool_dir: PathBuf,
    /// Bound on bytes waiting for Kafka (`analyzer.spool_max_mb`).
    pub spool_max_bytes: u64,
    /// Alerts that may wait in memory between the rules and the spool; senders block beyond.
    pub queue_capacity: usize,
    /// Records handed to librdkafka at once; the rest wait on disk.
    pub max_in_flight: usize,
    /// How long to keep delivering after shutdown fires.
    pub drain_timeout: Duration,
    pub producer: ProducerSettings,
}

impl PublisherOptions {
    pub fn new(data_dir: &Path, spool_max_bytes: u64) -> Self {
        PublisherOptions {
            spool_dir: data_dir.join("spool"),
            spool_max_bytes,
            queue_capacity: 256,
            max_in_flight: 1000,
            drain_timeout: Duration::from_secs(10),
            producer: ProducerSettings::default(),
        }
    }

    pub fn from_node(node: &NodeConfig) -> Self {
        let mut o = Self::new(&node.data_dir, node.analyzer.spool_max_bytes);
        o.drain_timeout = node.drain_timeout;
        o.producer.client_id = format!("xueliang-analyzer-{}", node.name);
        o
    }
}

/// Why the publisher could not start.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("invalid Kafka producer settings (check [kafka] in xueliang.toml): {0}")]
    Producer(#[from] rdkafka::error::KafkaError),
    #[error("cannot start the alert publisher thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Why an alert was not accepted. Both variants are the caller's to log: the alert did not
/// enter the publisher.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(
        "alert {alert_id} of camera {camera_id} is {bytes} bytes of JSON, over the {max}-byte \
         limit; shrink the snapshot"
    )]
    TooLarge {
        alert_id: Uuid,
        camera_id: CameraId,
        bytes: usize,
        max: usize,
    },
    #[error("the alert publisher has stopped; alert {} of camera {} was not taken", .0.alert_id, .0.camera_id)]
    Closed(Box<AlertV1>),
}

/// State shared between the publisher thread, the librdkafka callbacks and [`PublisherHealth`].
#[derive(Debug, Default)]
pub(crate) struct HealthInner {
    pub(crate) spool_full: AtomicBool,
    pub(crate) spool_failing: AtomicBool,
    pub(crate) broker_reachable: AtomicBool,
    pub(crate) topic_ready: AtomicBool,
    pub(crate) running: AtomicBool,
    pub(crate) spool_records: AtomicU64,
    pub(crate) spool_bytes: AtomicU64,
    pub(crate) published: AtomicU64,
}

/// A live view of the publisher for `/healthz` and tests. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PublisherHealth(Arc<HealthInner>);

impl PublisherHealth {
    /// An operator alert: set when the spool reached its bound (senders block while no record
    /// fits), cleared once it has drained to half.
    pub fn spool_full(&self) -> bool {
        self.0.spool_full.load(Ordering::Relaxed)
    }
    /// True while appending to the spool fails (disk error); senders are blocked.
    pub fn spool_failing(&self) -> bool {
        self.0.spool_failing.load(Ordering::Relaxed)
    }
    /// Best effort: false after librdkafka reported all brokers down, true after a delivery.
    pub fn broker_reachable(&self) -> bool {
        self.0.broker_reachable.load(Ordering::Relaxed)
    }
    /// Alerts waiting in the spool for Kafka's acknowledgement.
    pub fn spool_records(&self) -> u64 {
        self.0.spool_records.load(Ordering::Relaxed)
    }
    pub fn spool_bytes(&self) -> u64 {
        self.0.spool_bytes.load(Ordering::Relaxed)
    }
    /// Alerts acknowledged by Kafka since start.
    pub fn published_total(&self) -> u64 {
        self.0.published.load(Ordering::Relaxed)
    }
    /// False once the publisher thread has stopped.
    pub fn running(&self) -> bool {
        self.0.running.load(Ordering::Relaxed)
    }
    /// What `/healthz` should report: running, and accepting alerts.
    pub fn healthy(&self) -> bool {
        self.running() && !self.spool_full() && !self.spool_failing()
    }
}

/// One alert on its way from a sender to the spool.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) key: String,
    pub(crate) value: Vec<u8>,
    pub(crate) enqueued: Instant,
}

/// The handle the rules use to publish. Cheap to clone; the publisher's input closes when
/// every clone is dropped.
#[derive(Debug, Clone)]
pub struct AlertSender {
    tx: mpsc::Sender<Queued>,
    max_bytes: usize,
}

impl AlertSender {
    fn prepare(&self, mut alert: AlertV1) -> Result<Queued, SendError> {
        alert.published_at = chrono::Utc::now();
        let value = alert.to_json();
        if value.len() > self.max_bytes {
            return Err(SendError::TooLarge {
                alert_id: alert.alert_id,
                camera_id: alert.camera_id,
                bytes: value.len(),
                max: self.max_bytes,
            });
        }
        Ok(Queued {
            key: alert.camera_id.as_str().to_owned(),
            value,
            enqueued: Instant::now(),
        })
    }

    fn closed(q: Queued) -> SendError {
        SendError::Closed(Box::new(
            AlertV1::from_json(&q.value).expect("we serialised this alert ourselves"),
        ))
    }

    /// Hands an alert to the publisher, waiting while its queue is full (alerts are never
    /// dropped). Sets `published_at`.
    pub async fn send(&self, alert: AlertV1) -> Result<(), SendError> {
        let q = self.prepare(alert)?;
        self.tx.send(q).await.map_err(|e| Self::closed(e.0))
    }

    /// [`send`](Self::send) for callers on plain threads (the rules workers). Must not be
    /// called from inside an async task.
    pub fn blocking_send(&self, alert: AlertV1) -> Result<(), SendError> {
        let q = self.prepare(alert)?;
        self.tx.blocking_send(q).map_err(|e| Self::closed(e.0))
    }
}

/// What a stopped publisher left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Alerts acknowledged by Kafka during this run.
    pub delivered: u64,
    /// Alerts still in the spool; the next start sends them.
    pub left_in_spool: u64,
    /// Alerts queued in memory at shutdown that could not be written to the spool (I/O
    /// error; logged at ERROR). A full spool takes them anyway, past its bound.
    pub lost_at_shutdown: u64,
}

/// The running publisher: a thread that owns the spool and the Kafka producer.
#[derive(Debug)]
pub struct AlertPublisher {
    sender: AlertSender,
    health: PublisherHealth,
    done: oneshot::Receiver<DrainReport>,
    thread: std::thread::JoinHandle<()>,
}

impl AlertPublisher {
    /// Opens (and replays) the spool, creates the producer, and starts the publisher thread.
    /// The broker need not be reachable: alerts spool until it is, and the alerts topic is
    /// created (`kafka.partitions`) as soon as it can be.
    pub fn start(
        kafka: &KafkaConfig,
        opts: PublisherOptions,
        shutdown: Shutdown,
    ) -> Result<AlertPublisher, PublishError> {
        metrics::describe();
        let (spool, damaged) = Spool::open(&opts.spool_dir, opts.spool_max_bytes)?;
        if damaged > 0 {
            ::metrics::counter!(metrics::LOST, "reason" => "spool_damaged").increment(damaged);
        }
        let pending = spool.stats();
        if pending.records > 0 {
            tracing::info!(
                records = pending.records,
                bytes = pending.bytes,
                spool = %opts.spool_dir.display(),
                "alerts from a previous run are waiting in the spool; sending them first"
            );
        }
        let health = Arc::new(HealthInner {
            running: AtomicBool::new(true),
            broker_reachable: AtomicBool::new(true),
            ..HealthInner::default()
        });
        let producer =
            kafka::create_producer(kafka, &opts.producer, opts.max_in_flight, health.clone())?;
        let (tx, rx) = mpsc::channel(opts.queue_capacity.max(1));
        // What fits one spool record, with the key (≤ 64-byte camera id) and header.
        let max_bytes = MAX_ALERT_BYTES.min(opts.spool_max_bytes.saturating_sub(128) as usize);
        let sender = AlertSender { tx, max_bytes };
        let worker = worker::Worker::new(
            kafka.clone(),
            opts,
            spool,
            producer,
            rx,
            shutdown,
            health.clone(),
        );
        let (done_tx, done) = oneshot::channel();
        let thread_health = health.clone();
        let thread = std::thread::Builder::new()
            .name("alert-publisher".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("a current-thread runtime with a timer always builds");
                let report = rt.block_on(worker.run());
                thread_health.running.store(false, Ordering::Relaxed);
                let _ = done_tx.send(report);
            })?;
        Ok(AlertPublisher {
            sender,
            health: PublisherHealth(health),
            done,
            thread,
        })
    }

    /// A handle to publish with. Drop every sender (including this publisher's own, by
    /// calling [`join`](Self::join)) to let the publisher finish.
    pub fn sender(&self) -> AlertSender {
        self.sender.clone()
    }

    pub fn health(&self) -> PublisherHealth {
        self.health.clone()
    }

    /// Waits for the publisher to stop: after shutdown fired and the drain finished, or after
    /// every sender is gone and the spool is empty.
    pub async fn join(self) -> DrainReport {
        drop(self.sender);
        let report = self.done.await.unwrap_or_default();
        // The report is sent after the spool was synced and the producer dropped; the thread
        // only has to return. It is not joined: a blocking join on an async worker is what
        // once kept a shutdown from ending.
        drop(self.thread);
        report
    }
}
