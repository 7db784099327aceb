//! `xueliang cameras apply` and `cameras list`: the inventory topic as the source of truth.
//!
//! `apply` is declarative, like the file it reads: a camera in the file and not on the topic
//! is added, one whose record differs is changed, one on the topic and not in the file is
//! removed (a tombstone). Records are compared byte for byte, which works because
//! [`Inventory::records`] writes every camera the same way every time.

use crate::topics::{self, Record};
use crate::view::ClusterState;
use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use xueliang_core::config::CameraRecord;

/// What `apply` changed (or would change, with `dry_run`).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryDiff {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

impl InventoryDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// The latest value of every key of `records` (tombstones remove keys).
pub fn latest(records: &[Record]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for r in records {
        match &r.value {
            Some(v) => out.insert(r.key.clone(), v.clone()),
            None => out.remove(&r.key),
        };
    }
    out
}

/// The difference between the topic's cameras and the file's.
pub fn diff(current: &BTreeMap<String, Vec<u8>>, wanted: &[CameraRecord]) -> InventoryDiff {
    let mut d = InventoryDiff::default();
    let mut wanted_keys = std::collections::BTreeSet::new();
    for r in wanted {
        wanted_keys.insert(r.id.as_str());
        match current.get(r.id.as_str()) {
            None => d.added.push(r.id.to_string()),
            Some(v) if *v != r.value => d.changed.push(r.id.to_string()),
            Some(_) => d.unchanged += 1,
        }
    }
    d.removed = current
        .keys()
        .filter(|k| !wanted_keys.contains(k.as_str()))
        .cloned()
        .collect();
    d
}

/// Publishes `wanted` as the whole inventory: the added and changed records, and a tombstone
/// for every camera no longer wanted. Returns the diff; publishes nothing with `dry_run`.
pub fn apply(
    brokers: &str,
    topic: &str,
    wanted: &[CameraRecord],
    dry_run: bool,
) -> anyhow::Result<InventoryDiff> {
    topics::ensure_compacted(brokers, topic, 1, Duration::from_secs(15))?;
    let current = latest(&topics::read_to_end(
        brokers,
        topic,
        Duration::from_secs(30),
    )?);
    let d = diff(&current, wanted);
    if dry_run || d.is_empty() {
        return Ok(d);
    }
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "15000")
        .create()
        .context("creating the inventory producer")?;
    let by_id: BTreeMap<&str, &CameraRecord> = wanted.iter().map(|r| (r.id.as_str(), r)).collect();
    for id in d.added.iter().chain(&d.changed) {
        let r = by_id[id.as_str()];
        send(
            &producer,
            BaseRecord::to(topic)
                .key(id.as_str())
                .payload(r.value.as_slice()),
        )?;
    }
    for id in &d.removed {
        send(&producer, BaseRecord::<str, [u8]>::to(topic).key(id))?;
    }
    producer
        .flush(Duration::from_secs(15))
        .with_context(|| format!("waiting for the broker to store the records on {topic}"))?;
    Ok(d)
}

fn send(producer: &BaseProducer, mut record: BaseRecord<'_, str, [u8]>) -> anyhow::Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                r,
            )) => {
                record = r;
                producer.poll(Duration::from_millis(100));
            }
            Err((e, _)) => bail!("could not queue a camera record: {e}"),
        }
    }
}

/// Reads both topics to their end: the inventory, the members and who owns what.
pub fn snapshot(
    brokers: &str,
    inventory_topic: &str,
    nodes_topic: &str,
    timeout_beats: u32,
) -> anyhow::Result<ClusterState> {
    let mut state = ClusterState::new(timeout_beats);
    for r in topics::read_to_end(brokers, nodes_topic, Duration::from_secs(30))
        .or_else(|e| missing_is_empty(e, nodes_topic))?
    {
        state.node_record(&r);
    }
    let env = |k: &str| std::env::var(k).ok().or(Some(String::new()));
    for r in topics::read_to_end(brokers, inventory_topic, Duration::from_secs(30))
        .or_else(|e| missing_is_empty(e, inventory_topic))?
    {
        state.inventory_record(inventory_topic, &r, &env);
    }
    Ok(state)
}

fn missing_is_empty(e: anyhow::Error, topic: &str) -> anyhow::Result<Vec<Record>> {
    if e.to_string().contains("is not known to the broker") {
        tracing::debug!(topic, "topic does not exist yet");
        Ok(Vec::new())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xueliang_core::CameraId;

    fn rec(id: &str, v: &str) -> CameraRecord {
        CameraRecord {
            id: CameraId::new(id.to_string()).unwrap(),
            value: v.as_bytes().to_vec(),
        }
    }

    fn topic(entries: &[(&str, Option<&str>)]) -> Vec<Record> {
        entries
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                key: k.to_string(),
                value: v.map(|v| v.as_bytes().to_vec()),
                partition: 0,
                offset: i as i64,
            })
            .collect()
    }

    #[test]
    fn the_diff_names_added_changed_and_removed_cameras() {
        let current = latest(&topic(&[
            ("c1", Some("a")),
            ("c2", Some("b")),
            ("c3", Some("c")),
            ("c3", None),
            ("c4", Some("d")),
        ]));
        let d = diff(&current, &[rec("c1", "a"), rec("c2", "B"), rec("c5", "e")]);
        assert_eq!(d.added, ["c5"]);
        assert_eq!(d.changed, ["c2"]);
        assert_eq!(d.removed, ["c4"]);
        assert_eq!(d.unchanged, 1);
    }
}
