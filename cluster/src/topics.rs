//! Kafka plumbing shared by the heartbeat writer, the view and the `cameras` commands:
//! creating the compacted topics, and reading a topic from its start to its end.

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One record as read: `value` is `None` for a tombstone.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: String,
    pub value: Option<Vec<u8>>,
    pub partition: i32,
    pub offset: i64,
}

/// A consumer that reads by `assign()` only: it joins no group and commits nothing (the
/// group id is required by librdkafka but never used).
pub fn reader(brokers: &str, purpose: &str) -> anyhow::Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("xueliang-{purpose}-unused"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50")
        .set("socket.timeout.ms", "5000")
        .create()
        .context("creating a Kafka consumer")
}

/// Creates `topic` as a compacted topic if it does not exist. Replication: the cluster's
/// default (-1, Kafka ≥ 2.4), or 1 where the broker refuses that (the test broker).
pub fn ensure_compacted(
    brokers: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("creating a Kafka admin client")?;
    let opts = AdminOptions::new().operation_timeout(Some(timeout));
    let deadline = Instant::now() + timeout;
    let mut replication = -1;
    loop {
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication))
            .set("cleanup.policy", "compact");
        let result = futures::executor::block_on(admin.create_topics([&new], &opts));
        match result.map(|mut v| v.pop()) {
            Ok(Some(Ok(_))) => {
                tracing::info!(topic, partitions, "created compacted topic");
                return Ok(());
            }
            Ok(Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists)))) | Ok(None) => return Ok(()),
            Ok(Some(Err((_, RDKafkaErrorCode::InvalidReplicationFactor))))
            | Ok(Some(Err((_, RDKafkaErrorCode::InvalidRequest))))
                if replication == -1 =>
            {
                replication = 1;
            }
            Ok(Some(Err((_, code)))) => bail!("the broker refused to create topic {topic}: {code}"),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).with_context(|| format!("creating topic {topic}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// The partitions of `topic` (retried until `timeout`: a topic just created may not be in
/// the metadata yet).
pub fn partitions(
    consumer: &impl Consumer,
    topic: &str,
    timeout: Duration,
) -> anyhow::Result<Vec<i32>> {
    let deadline = Instant::now() + timeout;
    loop {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(2));
        if let Ok(md) = &md
            && let Some(t) = md.topics().iter().find(|t| t.name() == topic)
            && t.error().is_none()
            && !t.partitions().is_empty()
        {
            let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
            ps.sort_unstable();
            return Ok(ps);
        }
        if Instant::now() >= deadline {
            bail!(
                "topic {topic} is not known to the broker ({})",
                md.err()
                    .map_or("no partitions".to_string(), |e| e.to_string())
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Creates `topic` as a one-partition compacted topic if it is missing, and assigns every
/// partition of it to `consumer` from the beginning: how a follower of a compacted topic
/// (the inventory on a dispatcher, camera status) starts reading it.
pub fn assign_compacted(
    consumer: &BaseConsumer,
    brokers: &str,
    topic: &str,
) -> anyhow::Result<CatchUp> {
    let t = Duration::from_secs(10);
    ensure_compacted(brokers, topic, 1, t)?;
    let parts = partitions(consumer, topic, t)?;
    CatchUp::assign(consumer, &[(topic, &parts)])
}

impl Record {
    pub fn from_message(m: &impl Message) -> Record {
        Record {
            key: m
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default(),
            value: m.payload().map(<[u8]>::to_vec),
            partition: m.partition(),
            offset: m.offset(),
        }
    }
}

/// Reading partitions from their start up to the end they had when reading began.
///
/// The end offsets are a lower bound: tansu 0.6.0 reports a high watermark of the last
/// batch's base offset + 1, so a batch of six records at 0..5 reads as ending at 1. Past the
/// reported end, reading goes on until a poll comes back empty (a batch arrives whole).
pub struct CatchUp {
    ends: BTreeMap<(String, i32), i64>,
    drained: bool,
}

impl CatchUp {
    /// Assigns every partition of `topics` to `consumer` from the beginning and notes where
    /// each ends now.
    pub fn assign(consumer: &BaseConsumer, topics: &[(&str, &[i32])]) -> anyhow::Result<CatchUp> {
        let mut tpl = TopicPartitionList::new();
        let mut ends = BTreeMap::new();
        for (topic, parts) in topics {
            for p in *parts {
                tpl.add_partition_offset(topic, *p, Offset::Beginning)?;
                let (low, high) = consumer
                    .fetch_watermarks(topic, *p, Duration::from_secs(5))
                    .with_context(|| format!("reading the end offsets of {topic}"))?;
                if high > low {
                    ends.insert((topic.to_string(), *p), high);
                }
            }
        }
        consumer.assign(&tpl)?;
        Ok(CatchUp {
            ends,
            drained: false,
        })
    }

    /// A record at `offset` of `topic`/`partition` was read.
    pub fn read(&mut self, topic: &str, partition: i32, offset: i64) {
        let at = (topic.to_string(), partition);
        if self.ends.get(&at).is_some_and(|end| offset + 1 >= *end) {
            self.ends.remove(&at);
        }
    }

    /// A poll came back empty.
    pub fn idle(&mut self, consumer: &BaseConsumer) {
        if self.ends.is_empty() {
            self.drained = true;
            return;
        }
        // The end may be a compacted-away offset: trust the position too.
        if let Ok(pos) = consumer.position() {
            for e in pos.elements() {
                let at = (e.topic().to_string(), e.partition());
                if let Offset::Offset(o) = e.offset()
                    && self.ends.get(&at).is_some_and(|end| o >= *end)
                {
                    self.ends.remove(&at);
                }
            }
        }
    }

    /// Every partition was read to its end and a poll after that came back empty.
    pub fn done(&self) -> bool {
        self.ends.is_empty() && self.drained
    }
}

/// Every record of `topic` from the start up to its end as of now, in offset order per
/// partition.
pub fn read_to_end(brokers: &str, topic: &str, timeout: Duration) -> anyhow::Result<Vec<Record>> {
    let consumer = reader(brokers, "read-to-end")?;
    let deadline = Instant::now() + timeout;
    let parts = partitions(&consumer, topic, timeout)?;
    let mut catch_up = CatchUp::assign(&consumer, &[(topic, &parts)])?;
    let mut out = Vec::new();
    while !catch_up.done() {
        if Instant::now() >= deadline {
            bail!("timed out reading {topic} to its end");
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                catch_up.read(topic, m.partition(), m.offset());
                out.push(Record::from_message(&m));
            }
            Some(Err(e)) => tracing::debug!(topic, error = %e, "read error; retrying"),
            None => catch_up.idle(&consumer),
        }
    }
    Ok(out)
}

/// Calls `connect` until it succeeds, backing off from 0.5 s to 5 s and logging `what` at WARN
/// on each failure; `None` on shutdown, or at once (logged at ERROR) when `fatal` says that
/// retrying cannot help.
pub fn retry_connect<T>(
    what: &str,
    shutdown: &xueliang_core::shutdown::Shutdown,
    fatal: impl Fn(&anyhow::Error) -> bool,
    mut connect: impl FnMut() -> anyhow::Result<T>,
) -> Option<T> {
    let mut wait = Duration::from_millis(500);
    loop {
        match connect() {
            Ok(c) => return Some(c),
            Err(e) if fatal(&e) => {
                tracing::error!(error = %format!("{e:#}"), "{what}: cannot go on");
                return None;
            }
            Err(e) => {
                if shutdown.is_triggered() {
                    return None;
                }
                tracing::warn!(error = %format!("{e:#}"), retry_in_s = wait.as_secs_f32(), "{what}");
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
