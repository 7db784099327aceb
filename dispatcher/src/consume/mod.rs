//! Consuming Alert v1 from Kafka: decode, route, and persist each batch together with the
//! offsets that follow it.
//!
//! Design decisions:
//! - **Offsets live in the database, in the batch's transaction.** The position of every
//!   partition after a batch commits with the batch's alerts (and only after every malformed
//!   message of the batch was acknowledged by the dead-letter topic). Whoever reads the
//!   partition next — this process after a crash, another dispatcher after a takeover —
//!   resumes exactly there: nothing lost, nothing stored twice. Kafka's committed offsets are
//!   not used. The alert id stays the idempotency key, so a batch read twice (a takeover while
//!   the old owner finished it) is counted as duplicates and otherwise harmless.
//! - **Partitions by `assign()`, never by a consumer group.** With SQLite the dispatcher is
//!   alone and reads every partition; with PostgreSQL several dispatchers divide them with the
//!   same heartbeats and rendezvous hashing as the edges' cameras (`xueliang-cluster`). The
//!   test broker's group coordinator does not fail over (see deploy/KAFKA.md), and this does
//!   within the node timeout. A keeper task applies the share as it changes.
//! - **Batches.** Up to `batch_max` messages or `batch_linger` after the first one, then one
//!   store transaction (one fsync) for all of them.
//! - **Never drop an alert.** A store failure is retried (with backoff) until it succeeds or
//!   the process shuts down; the offsets wait. A DLQ send failure is retried likewise.
//! - If a dispatcher that should read partitions holds none for
//!   `dispatcher.no_partitions_alert`, that is logged at ERROR and raised as a gauge.
//! - Graceful drain: on shutdown the batch being collected is finished and stored with its
//!   offsets, then the consumer closes.

mod dlq;
mod metrics;
pub mod stall;

pub use dlq::{H_ERROR, H_OFFSET, H_PARTITION, H_REASON, H_TOPIC};
pub use metrics::{
    ASSIGNED_PARTITIONS, CONSUMED_TOTAL, DEAD_LETTERED_TOTAL, DUPLICATES_TOTAL, NO_PARTITIONS,
    PERSISTED_TOTAL, STORE_ERRORS_TOTAL, describe_metrics,
};

use crate::routing::Router;
use crate::store::{AlertRecord, ChangeKind, IncidentChange, PartitionOffset, Store};
use dlq::DeadLetters;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use xueliang_cluster::view::Share;
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, DispatcherConfig, KafkaConfig};
use xueliang_core::contract::{AlertDecodeError, AlertV1};
use xueliang_core::shutdown::Shutdown;

/// Looks a camera up in the inventory (`None`: unknown camera, routed to the centre).
pub type CameraLookup = Arc<dyn Fn(&CameraId) -> Option<CameraConfig> + Send + Sync>;

/// What the consumer needs besides configuration.
pub struct ConsumerDeps {
    pub router: Arc<Router>,
    pub cameras: CameraLookup,
    pub store: Arc<dyn Store>,
    /// Receives the incident change of every newly persisted alert (not duplicates), after
    /// its transaction committed.
    pub hub: Option<crate::push::Hub>,
    /// Which partitions of the alerts topic to read.
    pub partitions: Partitions,
}

/// Which partitions of the alerts topic this dispatcher reads.
pub enum Partitions {
    /// Every one (a dispatcher alone on its store: SQLite).
    All,
    /// This dispatcher's share among the live dispatchers (`None` until the cluster view has
    /// read the nodes topic: nothing yet).
    Shared(watch::Receiver<Option<Share>>),
}

/// Tuning; the defaults suit production.
#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    /// Most messages per store transaction.
    pub batch_max: usize,
    /// How long to wait for more messages after the first of a batch.
    pub batch_linger: Duration,
    /// Extra librdkafka settings, applied last (e.g. `session.timeout.ms` in tests).
    pub librdkafka: Vec<(String, String)>,
}

impl Default for ConsumeOptions {
    fn default() -> Self {
        ConsumeOptions {
            batch_max: 500,
            // Under load a batch fills from messages already fetched; the linger only adds
            // latency when alerts trickle in.
            batch_linger: Duration::from_millis(5),
            librdkafka: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error(
        "cannot create the Kafka {what} for brokers `{brokers}`: {source} (check `[kafka]` in xueliang.toml)"
    )]
    Client {
        what: &'static str,
        brokers: String,
        source: KafkaError,
    },
    #[error("the consumer task panicked or was cancelled")]
    Task,
}

/// The running consumer.
pub struct ConsumerHandle {
    task: JoinHandle<Result<(), ConsumeError>>,
    assigned: Arc<AtomicUsize>,
    starved: Arc<AtomicBool>,
    stalled: Arc<std::sync::Mutex<Vec<(i32, i64)>>>,
}

impl ConsumerHandle {
    /// Whether the no-partitions operator alert is raised now (no partition held for
    /// `dispatcher.no_partitions_alert`).
    pub fn no_partitions_alert(&self) -> bool {
        self.starved.load(Ordering::Relaxed)
    }

    /// Partitions stalled now (behind and not moving for `dispatcher.stall_alert_s`), with
    /// the offset each waits at.
    pub fn stalled_partitions(&self) -> Vec<(i32, i64)> {
        self.stalled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Partitions held at the last check (checked every second).
    pub fn assigned_partitions(&self) -> usize {
        self.assigned.load(Ordering::Relaxed)
    }

    /// Waits for the consumer to stop (after `shutdown` was triggered and it drained).
    pub async fn join(self) -> Result<(), ConsumeError> {
        self.task.await.map_err(|_| ConsumeError::Task)?
    }
}

/// Longest wait for the final offset commit and the consumer's close on shutdown.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// The Kafka alert consumer.
pub struct Consumer;

impl Consumer {
    /// Creates the consumer and the DLQ producer, and spawns on the current tokio runtime the
    /// consume loop and the keeper that assigns it its partitions of `kafka.alerts_topic`.
    pub fn start(
        kafka: &KafkaConfig,
        dispatcher: &DispatcherConfig,
        mut deps: ConsumerDeps,
        opts: ConsumeOptions,
        shutdown: Shutdown,
    ) -> Result<ConsumerHandle, ConsumeError> {
        metrics::describe_metrics();
        let client_err = |what| {
            let brokers = kafka.brokers.clone();
            move |source| ConsumeError::Client {
                what,
                brokers,
                source,
            }
        };
        let mut cfg = ClientConfig::new();
        // No group is joined (partitions come from `assign()`): the group id only satisfies
        // librdkafka, and nothing is committed to Kafka.
        cfg.set("bootstrap.servers", &kafka.brokers)
            .set("group.id", &dispatcher.group_id)
            .set(
                "client.id",
                format!("xueliang-dispatcher-{}", dispatcher.instance_id),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            // librdkafka's default (500 ms) is harmless on Kafka but, on a broker that holds
            // every fetch for part of the wait (tansu 0.6.0 sleeps before looking: see
            // benches/RESULTS.md), adds hundreds of ms to every alert's way to the desk.
            .set(
                "fetch.wait.max.ms",
                dispatcher.fetch_wait.as_millis().to_string(),
            );
        for (k, v) in &opts.librdkafka {
            cfg.set(k, v);
        }
        let consumer: Arc<StreamConsumer> = Arc::new(cfg.create().map_err(client_err("consumer"))?);
        let dlq = DeadLetters::new(&kafka.brokers, &kafka.dlq_topic)
            .map_err(client_err("dead-letter producer"))?;
        let assigned = Arc::new(AtomicUsize::new(0));
        let starved = Arc::new(AtomicBool::new(false));
        let expect_none = Arc::new(AtomicBool::new(false));
        ::metrics::gauge!(NO_PARTITIONS).set(0.0);
        ::metrics::gauge!(ASSIGNED_PARTITIONS).set(0.0);
        let held = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let stalled = Arc::new(std::sync::Mutex::new(Vec::new()));
        let keeper = Keeper {
            consumer: consumer.clone(),
            topic: kafka.alerts_topic.clone(),
            store: deps.store.clone(),
            assigned: assigned.clone(),
            held: held.clone(),
            expect_none: expect_none.clone(),
            shutdown: shutdown.clone(),
        };
        let watch = stall::StallWatch {
            consumer: consumer.clone(),
            topic: kafka.alerts_topic.clone(),
            store: deps.store.clone(),
            held,
            after: dispatcher.stall_alert,
            stalled: stalled.clone(),
            shutdown: shutdown.clone(),
        };
        tokio::spawn(watch.run());
        let partitions = std::mem::replace(&mut deps.partitions, Partitions::All);
        let keeper = tokio::spawn(keeper.run(partitions));
        let worker = Worker {
            consumer,
            dlq,
            deps,
            opts,
            no_partitions_after: dispatcher.no_partitions_alert,
            assigned: assigned.clone(),
            expect_none,
            starved: starved.clone(),
            shutdown,
            keeper,
        };
        tracing::info!(
            topic = %kafka.alerts_topic,
            instance = %dispatcher.instance_id,
            "alert consumer started"
        );
        let task = tokio::spawn(worker.run());
        Ok(ConsumerHandle {
            task,
            assigned,
            starved,
            stalled,
        })
    }
}

struct Worker {
    consumer: Arc<StreamConsumer>,
    dlq: DeadLetters,
    deps: ConsumerDeps,
    opts: ConsumeOptions,
    no_partitions_after: Duration,
    assigned: Arc<AtomicUsize>,
    /// True while this dispatcher's share is legitimately empty (more dispatchers than
    /// partitions, or fenced): no operator alert for holding nothing.
    expect_none: Arc<AtomicBool>,
    starved: Arc<AtomicBool>,
    shutdown: Shutdown,
    keeper: JoinHandle<()>,
}

/// Applies the partition share to the consumer: unassigns what it no longer owns, assigns
/// what it newly owns at the offsets stored in the database.
struct Keeper {
    consumer: Arc<StreamConsumer>,
    topic: String,
    store: Arc<dyn Store>,
    assigned: Arc<AtomicUsize>,
    /// The partitions held, for the stall watch.
    held: Arc<std::sync::Mutex<BTreeSet<i32>>>,
    expect_none: Arc<AtomicBool>,
    shutdown: Shutdown,
}

/// How often the keeper re-reads the topic's partition count (partitions can be added).
const METADATA_EVERY: Duration = Duration::from_secs(10);

impl Keeper {
    async fn run(self, mut partitions: Partitions) {
        let mut held: BTreeSet<i32> = BTreeSet::new();
        let mut all: Vec<i32> = Vec::new();
        let mut metadata_at: Option<Instant> = None;
        loop {
            if metadata_at.is_none_or(|t| t.elapsed() >= METADATA_EVERY) || all.is_empty() {
                if let Some(ps) = self.partitions().await {
                    if ps != all {
                        tracing::info!(topic = %self.topic, partitions = ps.len(), "alerts topic partitions");
                    }
                    all = ps;
                }
                metadata_at = Some(Instant::now());
            }
            let wanted: BTreeSet<i32> = match &partitions {
                Partitions::All => all.iter().copied().collect(),
                Partitions::Shared(rx) => rx
                    .borrow()
                    .as_ref()
                    .map(|s| s.owned(&self.topic, &all))
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            };
            self.expect_none.store(
                wanted.is_empty() && matches!(partitions, Partitions::Shared(_)),
                Ordering::Relaxed,
            );
            if wanted != held {
                self.apply(&mut held, &wanted).await;
            }
            let changed = async {
                match &mut partitions {
                    Partitions::Shared(rx) => {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    Partitions::All => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.shutdown.wait() => return,
                _ = changed => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// The partitions of the alerts topic, or `None` while the broker does not know it.
    async fn partitions(&self) -> Option<Vec<i32>> {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            xueliang_cluster::topics::partitions(&*consumer, &topic, Duration::from_secs(3)).ok()
        })
        .await
        .ok()
        .flatten()
    }

    async fn apply(&self, held: &mut BTreeSet<i32>, wanted: &BTreeSet<i32>) {
        let gone: Vec<i32> = held.difference(wanted).copied().collect();
        let new: Vec<i32> = wanted.difference(held).copied().collect();
        if !gone.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for p in &gone {
                tpl.add_partition(&self.topic, *p);
            }
            match self.consumer.incremental_unassign(&tpl) {
                Ok(()) => {
                    for p in &gone {
                        held.remove(p);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not release partitions; retrying"),
            }
        }
        if !new.is_empty() {
            let stored = match self.store.consumer_offsets(&self.topic).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the stored offsets; not taking partitions yet");
                    return;
                }
            };
            let mut tpl = TopicPartitionList::new();
            for p in &new {
                let at = stored
                    .get(p)
                    .map_or(Offset::Beginning, |o| Offset::Offset(*o));
                let _ = tpl.add_partition_offset(&self.topic, *p, at);
            }
            match self.consumer.incremental_assign(&tpl) {
                Ok(()) => held.extend(new.iter().copied()),
                Err(e) => tracing::warn!(error = %e, "could not take partitions; retrying"),
            }
        }
        tracing::info!(
            topic = %self.topic,
            released = ?gone,
            taken = ?new,
            holding = ?held,
            "alert partitions changed"
        );
        self.assigned.store(held.len(), Ordering::Relaxed);
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = held.clone();
        ::metrics::gauge!(ASSIGNED_PARTITIONS).set(held.len() as f64);
    }
}

/// The assignment watchdog's state.
struct Watchdog {
    none_since: Option<Instant>,
    alerted: bool,
}

impl Worker {
    async fn run(self) -> Result<(), ConsumeError> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dog = Watchdog {
            none_since: Some(Instant::now()),
            alerted: false,
        };
        let mut batch: Vec<OwnedMessage> = Vec::with_capacity(self.opts.batch_max);
        if self.collect(&mut batch, &mut dog, &mut tick).await {
            // Two stages in step: while one batch is persisted (the store thread), the next
            // is fetched and decoded here, so consuming and persisting overlap. Batches still
            // persist one after the other, and each stores its offsets only after its own
            // transaction, so at-least-once order is unchanged.
            loop {
                let current = std::mem::take(&mut batch);
                let (_, more) = tokio::join!(
                    self.process(current),
                    self.collect(&mut batch, &mut dog, &mut tick)
                );
                if !more {
                    // Shutting down: finish what was already fetched, then stop.
                    if !batch.is_empty() {
                        self.process(std::mem::take(&mut batch)).await;
                    }
                    break;
                }
            }
        }
        self.close().await;
        Ok(())
    }

    /// Waits for the next message, then gathers more for up to `batch_linger` or `batch_max`.
    /// `false` when shutdown came first (whatever was gathered stays in `batch`).
    async fn collect(
        &self,
        batch: &mut Vec<OwnedMessage>,
        dog: &mut Watchdog,
        tick: &mut tokio::time::Interval,
    ) -> bool {
        while batch.is_empty() {
            tokio::select! {
                biased;
                _ = self.shutdown.wait() => return false,
                _ = tick.tick() => self.watch(dog),
                r = self.consumer.recv() => self.take(r, batch).await,
            }
        }
        let deadline = Instant::now() + self.opts.batch_linger;
        while batch.len() < self.opts.batch_max {
            tokio::select! {
                biased;
                r = self.consumer.recv() => self.take(r, batch).await,
                _ = tokio::time::sleep_until(deadline) => break,
                _ = self.shutdown.wait() => return false,
            }
        }
        true
    }

    async fn take(
        &self,
        r: Result<rdkafka::message::BorrowedMessage<'_>, KafkaError>,
        batch: &mut Vec<OwnedMessage>,
    ) {
        match r {
            Ok(m) => {
                ::metrics::counter!(CONSUMED_TOTAL).increment(1);
                batch.push(m.detach());
            }
            Err(e) => {
                // Broker down, rebalance in progress…: librdkafka reconnects by itself.
                tracing::warn!(error = %e, "Kafka consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    fn watch(&self, dog: &mut Watchdog) {
        let n = self.assigned.load(Ordering::Relaxed);
        if n > 0 || self.expect_none.load(Ordering::Relaxed) {
            if dog.alerted {
                tracing::info!(partitions = n, "alert consumer holds partitions again");
                ::metrics::gauge!(NO_PARTITIONS).set(0.0);
                self.starved.store(false, Ordering::Relaxed);
            }
            dog.none_since = None;
            dog.alerted = false;
            return;
        }
        let since = *dog.none_since.get_or_insert_with(Instant::now);
        if !dog.alerted && since.elapsed() >= self.no_partitions_after {
            dog.alerted = true;
            self.starved.store(true, Ordering::Relaxed);
            ::metrics::gauge!(NO_PARTITIONS).set(1.0);
            tracing::error!(
                for_s = since.elapsed().as_secs(),
                "alert consumer has held no partition of the alerts topic; alerts may not be \
                 reaching any desk (check that the broker is up and the alerts topic exists)"
            );
        }
    }

    /// Decodes, dead-letters, routes and persists one batch, then stores its offsets.
    async fn process(&self, batch: Vec<OwnedMessage>) {
        let mut next: HashMap<(String, i32), i64> = HashMap::new();
        let mut records = Vec::with_capacity(batch.len());
        for m in &batch {
            match decode(m) {
                Ok((alert, json)) => {
                    let camera = (self.deps.cameras)(&alert.camera_id);
                    let route = self.deps.router.route(&alert, camera.as_ref());
                    records.push(AlertRecord { alert, route, json });
                }
                Err((reason, detail)) => {
                    if !self.dead_letter(m, reason, &detail).await {
                        return; // shutting down: the batch is redelivered later
                    }
                }
            }
            let e = next
                .entry((m.topic().to_owned(), m.partition()))
                .or_insert(0);
            *e = (*e).max(m.offset() + 1);
        }
        let offsets: Vec<PartitionOffset> = next
            .into_iter()
            .map(|((topic, partition), next)| PartitionOffset {
                topic,
                partition,
                next,
            })
            .collect();
        self.persist(records.into(), offsets.into()).await;
    }

    /// Persists the records and the offsets after them, retrying until it works; `false`
    /// when shutdown cut it short (the batch is read again at the next start).
    async fn persist(&self, records: Arc<[AlertRecord]>, offsets: Arc<[PartitionOffset]>) -> bool {
        let mut backoff = Duration::from_millis(100);
        let results = loop {
            match self
                .deps
                .store
                .insert_batch_at(records.clone(), offsets.clone())
                .await
            {
                Ok(r) => break r,
                Err(e) => {
                    ::metrics::counter!(STORE_ERRORS_TOTAL).increment(1);
                    tracing::error!(error = %e, batch = records.len(), "cannot persist alerts; retrying");
                    if self.shutdown.is_triggered() {
                        return false;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        let mut new = 0u64;
        let mut changes = Coalesced::default();
        for (rec, ins) in records.iter().zip(results) {
            if ins.new {
                new += 1;
                if let Some(change) = ins.incident {
                    changes.add(change);
                }
            } else {
                tracing::debug!(alert_id = %rec.alert.alert_id, "duplicate alert (redelivery)");
            }
        }
        if let Some(hub) = &self.deps.hub {
            for change in changes.into_changes() {
                hub.publish(change);
            }
        }
        ::metrics::counter!(PERSISTED_TOTAL).increment(new);
        ::metrics::counter!(DUPLICATES_TOTAL).increment(records.len() as u64 - new);
        true
    }

    /// Sends to the DLQ, retrying until acknowledged; `false` when shutdown cut it short.
    async fn dead_letter(&self, m: &OwnedMessage, reason: &'static str, detail: &str) -> bool {
        tracing::warn!(
            topic = m.topic(),
            partition = m.partition(),
            offset = m.offset(),
            reason,
            detail,
            "malformed alert message; sending it to the dead-letter topic"
        );
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.dlq.send(m, reason, detail).await {
                Ok(()) => {
                    ::metrics::counter!(DEAD_LETTERED_TOTAL, "reason" => reason).increment(1);
                    return true;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot write to the dead-letter topic; retrying");
                    if self.shutdown.is_triggered() {
                        return false;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Closes the consumer on a thread of its own, for at most [`CLOSE_TIMEOUT`]: librdkafka's
    /// close waits for the broker, and with the broker gone it waits for good (on an async
    /// worker that once hung the whole process). Nothing is committed to Kafka: the offsets
    /// are in the database already.
    async fn close(self) {
        let Worker {
            consumer,
            dlq,
            keeper,
            ..
        } = self;
        keeper.abort();
        let _ = keeper.await;
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("kafka-consumer-close".into())
            .spawn(move || {
                drop(consumer);
                drop(dlq);
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the consumer-close thread; not closing it");
            return;
        }
        match tokio::time::timeout(CLOSE_TIMEOUT, done).await {
            Ok(_) => tracing::info!("alert consumer stopped"),
            Err(_) => tracing::warn!(
                timeout_s = CLOSE_TIMEOUT.as_secs(),
                "the broker did not answer the consumer's close; leaving it (the offsets are \
                 stored with the alerts, nothing is lost)"
            ),
        }
    }
}

/// One push per incident per batch: a burst of alerts joining one incident is one update on
/// the desks, not hundreds. The incident as the batch left it; `Created` if the batch opened
/// it; notified if any of its changes was.
#[derive(Default)]
struct Coalesced {
    order: Vec<uuid::Uuid>,
    by_id: HashMap<uuid::Uuid, IncidentChange>,
}

impl Coalesced {
    fn add(&mut self, change: IncidentChange) {
        match self.by_id.entry(change.incident.id) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let prev = e.get_mut();
                let kind = if prev.kind == ChangeKind::Created {
                    ChangeKind::Created
                } else {
                    change.kind
                };
                let notify = prev.notify || change.notify;
                *prev = IncidentChange {
                    kind,
                    notify,
                    ..change
                };
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                self.order.push(change.incident.id);
                e.insert(change);
            }
        }
    }

    fn into_changes(mut self) -> impl Iterator<Item = IncidentChange> {
        self.order
            .into_iter()
            .filter_map(move |id| self.by_id.remove(&id))
    }
}

/// Why a message is malformed: the metric label and a human-readable reason.
type Malformed = (&'static str, String);

/// The alert and its JSON as received, or why the message is malformed.
fn decode(m: &OwnedMessage) -> Result<(AlertV1, Option<Arc<str>>), Malformed> {
    let Some(bytes) = m.payload().filter(|p| !p.is_empty()) else {
        return Err(("empty", "message has no value".to_owned()));
    };
    let alert = AlertV1::from_json(bytes).map_err(|e| {
        let reason = match &e {
            AlertDecodeError::Json { .. } => "json",
            AlertDecodeError::Version(_) => "schema_version",
            AlertDecodeError::NotV7(_) => "alert_id",
            AlertDecodeError::BadObject { .. } => "object",
        };
        (reason, e.to_string())
    })?;
    // Valid JSON is valid UTF-8; were it not, the store serialises the alert instead.
    Ok((alert, std::str::from_utf8(bytes).ok().map(Arc::from)))
}
