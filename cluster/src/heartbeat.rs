//! The heartbeat writer: one record per interval on the nodes topic, a tombstone on a clean
//! exit. A plain thread with its own producer, so a busy async runtime (or a detector using
//! every core) cannot delay a beat and get the node judged gone.
//!
//! At most one beat is in flight: a beat that has not landed is not followed by a queue of
//! stale ones (which, landing together later, would look like a burst of liveness).

use crate::beat::BeatV1;
use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::time::{Duration, Instant};
use xueliang_core::shutdown::Shutdown;

pub const BEATS: &str = "xueliang_cluster_heartbeats_total";

/// Counts delivery reports (the counter is the writer's only output besides the topic).
struct Context_;

impl ClientContext for Context_ {}

impl ProducerContext for Context_ {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => metrics::counter!(BEATS, "outcome" => "delivered").increment(1),
            Err((e, _)) => {
                metrics::counter!(BEATS, "outcome" => "failed").increment(1);
                tracing::debug!(error = %e, "heartbeat not delivered");
            }
        }
    }
}

/// A running heartbeat writer; [`Heartbeat::stop`] writes the tombstone.
pub struct Heartbeat {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Shutdown,
}

impl Heartbeat {
    /// Starts beating `beat` (its `seq` is advanced per beat) to `topic` every `interval`,
    /// until `shutdown` or [`Heartbeat::stop`].
    pub fn start(
        brokers: &str,
        topic: &str,
        beat: BeatV1,
        interval: Duration,
        shutdown: Shutdown,
    ) -> anyhow::Result<Heartbeat> {
        let timeout_ms = (interval.as_millis() * 3).max(1500).to_string();
        let producer: BaseProducer<Context_> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", &timeout_ms)
            .create_with_context(Context_)
            .context("creating the heartbeat producer")?;
        let stop = Shutdown::new();
        let topic = topic.to_string();
        let own_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cluster-heartbeat".into())
            .spawn(move || beat_loop(producer, topic, beat, interval, shutdown, own_stop))
            .context("spawning the heartbeat thread")?;
        Ok(Heartbeat {
            thread: Some(thread),
            stop,
        })
    }

    /// Writes the tombstone (at most ~2 s) and ends the thread.
    pub fn stop(mut self) {
        self.stop.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

fn beat_loop(
    producer: BaseProducer<Context_>,
    topic: String,
    mut beat: BeatV1,
    interval: Duration,
    shutdown: Shutdown,
    stop: Shutdown,
) {
    let key = beat.key();
    let mut next = Instant::now();
    while !shutdown.is_triggered() && !stop.is_triggered() {
        if producer.in_flight_count() == 0 {
            beat.seq += 1;
            let value = serde_json::to_vec(&beat).expect("a heartbeat serialises");
            if let Err((e, _)) = producer.send(BaseRecord::to(&topic).key(&key).payload(&value)) {
                tracing::debug!(error = %e, "heartbeat not queued");
            }
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        // Serve delivery reports while waiting, in short steps so a stop is prompt.
        while Instant::now() < next && !shutdown.is_triggered() && !stop.is_triggered() {
            producer.poll(Duration::from_millis(50).min(next - Instant::now()));
        }
    }
    // A clean exit: the others take this node's cameras now, not after the timeout.
    let _ = producer.send(BaseRecord::<str, [u8]>::to(&topic).key(&key));
    if let Err(e) = producer.flush(Duration::from_secs(2)) {
        tracing::warn!(error = %e, "could not write the leaving tombstone; the others will \
            take this node's cameras after the node timeout");
    } else {
        tracing::info!(node = %beat.node, "left the cluster (tombstone written)");
    }
}
