//! The publisher thread's loop: take alerts into the spool, send the spool to Kafka in order,
//! commit what the broker acknowledged.
//!
//! One loop owns everything (spool, producer, window of in-flight records), so there are no
//! locks and the order of the log is the order of sending. Delivery reports are handled
//! before new input (`biased`), so acknowledgements free spool space before more alerts are
//! taken. On a delivery failure that retrying inside librdkafka cannot fix (a fatal
//! idempotence error, a purge), the producer is dropped and recreated after a backoff, and
//! sending restarts from the first unacknowledged record; records acknowledged after the
//! failed one are sent again (counted in `xueliang_alerts_resent_total`).

use futures::stream::{FuturesUnordered, StreamExt};
use futures::{FutureExt, future::BoxFuture};
use metrics::{counter, gauge, histogram};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use xueliang_core::config::KafkaConfig;
use xueliang_core::shutdown::Shutdown;

use super::kafka::{self, Producer, is_permanent, is_unknown_topic};
use super::metrics::*;
use super::spool::{Cursor, Position, Spool, SpoolError};
use super::{DrainReport, HealthInner, PublisherOptions, Queued};

/// At most this many bytes are handed to librdkafka at once (besides the record count limit).
const MAX_IN_FLIGHT_BYTES: usize = 32 << 20;
/// Alerts taken from the channel per fsync.
const APPEND_BATCH: usize = 256;
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Retry interval of an append that failed on I/O.
const SPOOL_RETRY: Duration = Duration::from_secs(1);

type DeliveryFut = BoxFuture<
    'static,
    (
        u64,
        Result<OwnedDeliveryResult, futures::channel::oneshot::Canceled>,
    ),
>;

/// A record handed to librdkafka (or resolved without it), in log order.
struct Sent {
    /// Local id, increasing in send order (sequence numbers may have gaps after damage).
    id: u64,
    next: Position,
    bytes: usize,
    done: bool,
    /// The alert's id, for the delivery line that reconciles this edge with the topic.
    alert_id: Option<Box<str>>,
}

/// The `alert_id` of an alert's JSON, read from its first bytes without parsing it all: the
/// serialiser writes it second, after `schema_version`.
fn alert_id_of(value: &[u8]) -> Option<Box<str>> {
    const KEY: &[u8] = b"\"alert_id\":\"";
    let head = &value[..value.len().min(128)];
    let at = head.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let id = value.get(at..at + 36)?;
    std::str::from_utf8(id).ok().map(Box::from)
}

pub(super) struct Worker {
    kafka: KafkaConfig,
    opts: PublisherOptions,
    spool: Spool,
    producer: Option<Producer>,
    rx: mpsc::Receiver<Queued>,
    shutdown: Shutdown,
    health: Arc<HealthInner>,
    cursor: Cursor,
    window: VecDeque<Sent>,
    window_bytes: usize,
    deliveries: FuturesUnordered<DeliveryFut>,
    next_id: u64,
    max_sent_seq: Option<u64>,
    /// Sequence number and hand-over time of alerts appended in this run (for latency).
    appended_at: VecDeque<(u64, Instant)>,
    /// The alert that did not fit the spool; input is not read while it is held.
    held: Option<Queued>,
    held_retry_at: Option<Instant>,
    /// Set after a spool read failed on I/O.
    read_retry_at: Option<Instant>,
    producer_retry_at: Option<Instant>,
    backoff: Duration,
    input_closed: bool,
    report: DrainReport,
}

impl Worker {
    pub(super) fn new(
        kafka: KafkaConfig,
        opts: PublisherOptions,
        spool: Spool,
        producer: Producer,
        rx: mpsc::Receiver<Queued>,
        shutdown: Shutdown,
        health: Arc<HealthInner>,
    ) -> Worker {
        let cursor = spool.cursor();
        Worker {
            kafka,
            opts,
            spool,
            producer: Some(producer),
            rx,
            shutdown,
            health,
            cursor,
            window: VecDeque::new(),
            window_bytes: 0,
            deliveries: FuturesUnordered::new(),
            next_id: 0,
            max_sent_seq: None,
            appended_at: VecDeque::new(),
            held: None,
            held_retry_at: None,
            read_retry_at: None,
            producer_retry_at: None,
            backoff: BACKOFF_MIN,
            input_closed: false,
            report: DrainReport::default(),
        }
    }

    pub(super) async fn run(mut self) -> DrainReport {
        gauge!(SPOOL_FULL).set(0.0);
        let mut ensure = std::pin::pin!(self.ensure_topic());
        let mut ensure_done = false;
        let mut drain_deadline: Option<Instant> = None;
        loop {
            if ensure_done
                && !self.health.topic_ready.load(Ordering::Relaxed)
                && !self.shutdown.is_triggered()
            {
                // The topic vanished under us (see on_delivery): create it again.
                ensure.set(self.ensure_topic());
                ensure_done = false;
            }
            self.pump();
            self.publish_state();
            let empty = self.spool.stats().records == 0 && self.held.is_none();
            match drain_deadline {
                Some(d) if (self.input_closed && empty) || Instant::now() >= d => break,
                None if self.input_closed && empty => break,
                _ => {}
            }
            let wake = self.next_wake(drain_deadline);
            tokio::select! {
                biased;
                Some((id, res)) = self.deliveries.next(), if !self.deliveries.is_empty() => {
                    self.on_delivery(id, res);
                    // Take every report already in, so one commit covers them all.
                    while let Some(Some((id, res))) = self.deliveries.next().now_or_never() {
                        self.on_delivery(id, res);
                    }
                }
                _ = self.shutdown.wait(), if drain_deadline.is_none() => {
                    let pending = self.spool.stats().records;
                    tracing::info!(pending, timeout_s = self.opts.drain_timeout.as_secs_f32(), "alert publisher draining");
                    drain_deadline = Some(Instant::now() + self.opts.drain_timeout);
                }
                msg = self.rx.recv(), if self.held.is_none() && !self.input_closed => match msg {
                    Some(q) => self.accept(q),
                    None => self.input_closed = true,
                },
                _ = &mut ensure, if !ensure_done => ensure_done = true,
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            self.commit_acked();
            self.retry_held();
            self.clear_full_when_drained();
        }
        self.finish()
    }

    fn ensure_topic(&self) -> impl Future<Output = ()> + use<> {
        kafka::ensure_topic(
            self.kafka.clone(),
            self.opts.producer.clone(),
            self.health.clone(),
            self.shutdown.clone(),
        )
    }

    fn next_wake(&self, drain_deadline: Option<Instant>) -> Instant {
        let now = Instant::now();
        let mut wake = now + Duration::from_secs(3600);
        // A timer already due was acted on before we got here (or is waiting on something
        // else, like the topic); only future ones can wake us, or the loop would spin.
        let mut at = |t: Option<Instant>| {
            if let Some(t) = t.filter(|t| *t > now) {
                wake = wake.min(t);
            }
        };
        at(drain_deadline);
        at(self.held_retry_at);
        at(self.read_retry_at);
        if self.producer.is_none() {
            at(self.producer_retry_at);
        }
        wake
    }

    /// Takes one alert and whatever else is already queued (up to a batch), then fsyncs once.
    fn accept(&mut self, first: Queued) {
        if self.append(first) {
            for _ in 1..APPEND_BATCH {
                match self.rx.try_recv() {
                    Ok(q) => {
                        if !self.append(q) {
                            break;
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.input_closed = true;
                        break;
                    }
                }
            }
        }
        self.sync();
    }

    /// Appends one alert; on failure holds it (and stops reading input) and returns false.
    fn append(&mut self, q: Queued) -> bool {
        match self.spool.append(q.key.as_bytes(), &q.value) {
            Ok(seq) => {
                counter!(SPOOLED).increment(1);
                self.appended_at.push_back((seq, q.enqueued));
                true
            }
            Err(SpoolError::Full { pending, max, need }) => {
                if !self.health.spool_full.swap(true, Ordering::Relaxed) {
                    gauge!(SPOOL_FULL).set(1.0);
                    tracing::error!(
                        pending_bytes = pending,
                        max_bytes = max,
                        need,
                        records = self.spool.stats().records,
                        spool = %self.spool.dir().display(),
                        "alert spool is full: Kafka has not acknowledged alerts for a while; \
                         new alerts are held (analysis blocks) until it does — check the brokers \
                         or raise analyzer.spool_max_mb"
                    );
                }
                self.held = Some(q);
                false
            }
            Err(e) => {
                // TooLarge cannot happen (the sender checks the size against this spool);
                // anything else is I/O: keep the alert and retry.
                counter!(PUBLISH_ERRORS, "reason" => "spool_io").increment(1);
                if !self.health.spool_failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %e, "cannot write to the alert spool; new alerts are held until it works again");
                }
                self.held = Some(q);
                self.held_retry_at = Some(Instant::now() + SPOOL_RETRY);
                false
            }
        }
    }

    fn sync(&mut self) {
        if let Err(e) = self.spool.sync() {
            counter!(PUBLISH_ERRORS, "reason" => "spool_io").increment(1);
            tracing::error!(error = %e, "fsync of the alert spool failed; alerts are still sent but may not survive a power cut");
        }
    }

    fn retry_held(&mut self) {
        if self.held.is_none() || self.held_retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let q = self.held.take().expect("checked above");
        self.held_retry_at = None;
        if self.append(q) {
            self.sync();
            if self.health.spool_failing.swap(false, Ordering::Relaxed) {
                tracing::info!("alert spool is writable again");
            }
        }
    }

    /// Clears the full signal once the spool has drained to half: with no hysteresis a spool
    /// at its bound flips full/not full with every acknowledgement, and a scrape every 15 s
    /// would mostly see 0 while the analyzer is in fact throttled.
    fn clear_full_when_drained(&mut self) {
        if self.held.is_none()
            && self.health.spool_full.load(Ordering::Relaxed)
            && self.spool.stats().bytes <= self.spool.max_bytes() / 2
        {
            self.health.spool_full.store(false, Ordering::Relaxed);
            gauge!(SPOOL_FULL).set(0.0);
            tracing::info!(
                pending = self.spool.stats().records,
                "alert spool drained to half; the spool-full alert is over"
            );
        }
    }

    /// Hands records from the spool to librdkafka while the window has room.
    fn pump(&mut self) {
        if self.producer.is_none() {
            if self.producer_retry_at.is_some_and(|t| Instant::now() < t) {
                return;
            }
            match kafka::create_producer(
                &self.kafka,
                &self.opts.producer,
                self.opts.max_in_flight,
                self.health.clone(),
            ) {
                Ok(p) => self.producer = Some(p),
                Err(e) => {
                    counter!(PUBLISH_ERRORS, "reason" => "producer").increment(1);
                    tracing::error!(error = %e, "cannot create the Kafka producer; retrying");
                    self.schedule_producer_retry();
                    return;
                }
            }
        }
        if !self.health.topic_ready.load(Ordering::Relaxed)
            || self.read_retry_at.is_some_and(|t| Instant::now() < t)
        {
            return;
        }
        self.read_retry_at = None;
        let producer = self.producer.as_ref().expect("created above");
        let mut failed = None;
        while self.window.len() < self.opts.max_in_flight && self.window_bytes < MAX_IN_FLIGHT_BYTES
        {
            let rec = match self.spool.read(&mut self.cursor) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e @ (SpoolError::Io { .. } | SpoolError::Locked { .. })) => {
                    // Nothing is known to be wrong with the data: try again shortly.
                    counter!(PUBLISH_ERRORS, "reason" => "spool_io").increment(1);
                    tracing::error!(error = %e, "cannot read the alert spool; retrying");
                    self.read_retry_at = Some(Instant::now() + SPOOL_RETRY);
                    break;
                }
                Err(e) => {
                    let skipped = self.spool.skip_segment(&mut self.cursor);
                    counter!(LOST, "reason" => "spool_damaged").increment(skipped);
                    tracing::error!(error = %e, skipped, "alert spool is damaged; skipping the rest of the segment (those alerts are lost)");
                    // Let the commit move past the damage.
                    self.window.push_back(Sent {
                        id: self.next_id,
                        next: self.cursor.position(),
                        bytes: 0,
                        done: true,
                        alert_id: None,
                    });
                    self.next_id += 1;
                    continue;
                }
            };
            let id = self.next_id;
            let bytes = rec.key.len() + rec.value.len();
            let record = FutureRecord::to(&self.kafka.alerts_topic)
                .key(&rec.key[..])
                .payload(&rec.value[..]);
            match producer.send_result(record) {
                Ok(fut) => {
                    self.next_id += 1;
                    if self.max_sent_seq.is_some_and(|m| rec.seq <= m) {
                        counter!(RESENT).increment(1);
                    }
                    self.max_sent_seq = Some(self.max_sent_seq.map_or(rec.seq, |m| m.max(rec.seq)));
                    self.window.push_back(Sent {
                        id,
                        next: rec.next,
                        bytes,
                        done: false,
                        alert_id: alert_id_of(&rec.value),
                    });
                    self.window_bytes += bytes;
                    self.deliveries.push(Box::pin(fut.map(move |r| (id, r))));
                }
                Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    self.cursor = self.spool.cursor_at(rec.at);
                    break;
                }
                Err((e, _)) if is_permanent(&e) => {
                    self.next_id += 1;
                    reject(self.spool.dir(), rec.seq, &rec.key, &rec.value, &e);
                    self.window.push_back(Sent {
                        id,
                        next: rec.next,
                        bytes: 0,
                        done: true,
                        alert_id: None,
                    });
                }
                Err((e, _)) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            counter!(PUBLISH_ERRORS, "reason" => "producer").increment(1);
            tracing::warn!(error = %e, "Kafka producer refused a record; recreating it");
            if is_unknown_topic(&e) {
                self.health.topic_ready.store(false, Ordering::Relaxed);
            }
            self.recover();
        }
    }

    fn on_delivery(
        &mut self,
        id: u64,
        res: Result<OwnedDeliveryResult, futures::channel::oneshot::Canceled>,
    ) {
        let Ok(i) = self.window.binary_search_by_key(&id, |s| s.id) else {
            return; // from a producer that was replaced
        };
        match res {
            Ok(Ok(d)) => {
                self.window[i].done = true;
                // One line per delivered alert: after a crash, an edge's log reconciles with
                // the topic (alert id → partition and offset), whatever its counters lost.
                tracing::info!(
                    target: "xueliang::delivered",
                    alert_id = self.window[i].alert_id.as_deref().unwrap_or("?"),
                    partition = d.partition,
                    offset = d.offset,
                    "alert delivered"
                );
                self.report.delivered += 1;
                self.health.published.fetch_add(1, Ordering::Relaxed);
                counter!(PUBLISHED).increment(1);
                self.backoff = BACKOFF_MIN;
                if !self.health.broker_reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        pending = self.spool.stats().records,
                        "Kafka is reachable again; sending spooled alerts"
                    );
                }
            }
            Ok(Err((e, msg))) if is_permanent(&e) => {
                let seq = self.window[i].next.seq.saturating_sub(1);
                reject(
                    self.spool.dir(),
                    seq,
                    msg.key().unwrap_or_default(),
                    msg.payload().unwrap_or_default(),
                    &e,
                );
                self.window[i].done = true;
            }
            Ok(Err((e, _))) => {
                counter!(PUBLISH_ERRORS, "reason" => "delivery").increment(1);
                if is_unknown_topic(&e) {
                    tracing::warn!(topic = %self.kafka.alerts_topic, "the alerts topic does not exist; creating it");
                    self.health.topic_ready.store(false, Ordering::Relaxed);
                }
                tracing::warn!(
                    error = %e,
                    "alert delivery failed; recreating the producer and resending from the first unacknowledged alert"
                );
                self.recover();
            }
            Err(_) => {
                counter!(PUBLISH_ERRORS, "reason" => "producer").increment(1);
                tracing::warn!("Kafka producer dropped a delivery report; recreating it");
                self.recover();
            }
        }
    }

    /// Commits the acknowledged prefix of the window.
    fn commit_acked(&mut self) {
        let mut last = None;
        while self.window.front().is_some_and(|s| s.done) {
            let s = self.window.pop_front().expect("checked");
            self.window_bytes -= s.bytes;
            last = Some(s.next);
        }
        let Some(pos) = last else { return };
        if let Err(e) = self.spool.commit(pos) {
            // Not a loss: the next start resends from the older position.
            counter!(PUBLISH_ERRORS, "reason" => "spool_io").increment(1);
            tracing::error!(error = %e, "cannot record delivered alerts in the spool; they will be sent again after a restart");
        }
        let now = Instant::now();
        while self
            .appended_at
            .front()
            .is_some_and(|(seq, _)| *seq < pos.seq)
        {
            let (_, t) = self.appended_at.pop_front().expect("checked");
            histogram!(DELIVERY_SECONDS).record(now.duration_since(t).as_secs_f64());
        }
    }

    /// Drops the producer and everything in flight; sending restarts from the committed
    /// position with a new producer after a backoff.
    fn recover(&mut self) {
        self.commit_acked();
        self.deliveries = FuturesUnordered::new();
        self.window.clear();
        self.window_bytes = 0;
        // Purges librdkafka's queue (a bounded flush of at most 500 ms).
        self.producer = None;
        self.cursor = self.spool.cursor();
        self.schedule_producer_retry();
    }

    fn schedule_producer_retry(&mut self) {
        self.producer_retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    fn publish_state(&self) {
        let s = self.spool.stats();
        self.health
            .spool_records
            .store(s.records, Ordering::Relaxed);
        self.health.spool_bytes.store(s.bytes, Ordering::Relaxed);
        gauge!(SPOOL_RECORDS).set(s.records as f64);
        gauge!(SPOOL_BYTES).set(s.bytes as f64);
    }

    /// Stops: whatever is still queued goes into the spool for the next start.
    fn finish(mut self) -> DrainReport {
        self.rx.close();
        let mut lost = 0u64;
        let mut leftovers: Vec<Queued> = self.held.take().into_iter().collect();
        while let Ok(q) = self.rx.try_recv() {
            leftovers.push(q);
        }
        for q in leftovers {
            // Past the bound if need be: a few alerts over the limit beat losing them.
            if let Err(e) = self.spool.append_over_bound(q.key.as_bytes(), &q.value) {
                lost += 1;
                tracing::error!(camera = %q.key, error = %e, "alert lost at shutdown: it could not be written to the spool");
            }
        }
        self.sync();
        if lost > 0 {
            counter!(LOST, "reason" => "shutdown_spool_io").increment(lost);
        }
        self.commit_acked();
        // Drop the producer now: librdkafka purges what is still in flight; it stays spooled.
        self.producer = None;
        self.publish_state();
        let left = self.spool.stats().records;
        if left > 0 {
            tracing::warn!(
                records = left,
                spool = %self.spool.dir().display(),
                "alert publisher stopped with undelivered alerts; they are sent at the next start"
            );
        }
        self.report.left_in_spool = left;
        self.report.lost_at_shutdown = lost;
        self.report
    }
}

/// Keeps a record the broker will never accept next to the spool and says so loudly.
fn reject(dir: &Path, seq: u64, key: &[u8], value: &[u8], e: &KafkaError) {
    counter!(PUBLISH_ERRORS, "reason" => "rejected").increment(1);
    counter!(LOST, "reason" => "rejected").increment(1);
    let rejected = dir.join("rejected");
    let path = rejected.join(format!("{seq:020}.json"));
    let saved = std::fs::create_dir_all(&rejected).and_then(|()| std::fs::write(&path, value));
    tracing::error!(
        camera = %String::from_utf8_lossy(key),
        seq,
        error = %e,
        kept = %path.display(),
        saved = saved.is_ok(),
        "Kafka rejected an alert permanently; it is kept in the spool's rejected/ folder"
    );
}

#[cfg(test)]
mod delivered_line_tests {
    #[test]
    fn the_alert_id_is_read_from_the_head_of_the_json() {
        let a = xueliang_core::contract::AlertV1::new(
            xueliang_core::CameraId::new("44030400001320000001").unwrap(),
            xueliang_core::contract::EventType::VideoLoss,
            xueliang_core::contract::Severity::Major,
            "r",
            chrono::Utc::now(),
        );
        let id = super::alert_id_of(&a.to_json()).unwrap();
        assert_eq!(&*id, a.alert_id.to_string());
        assert!(super::alert_id_of(b"{\"x\": 1}").is_none());
        assert!(super::alert_id_of(b"{\"alert_id\":\"short").is_none());
    }
}
