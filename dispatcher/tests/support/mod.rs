//! Shared by the consumer tests: the single-node deployment's routing, alerts, a producer,
//! a DLQ reader, a consumer wired to a SQLite store, and every store backend (SQLite, and
//! PostgreSQL on a throwaway database). The tooling itself (broker, databases, the deployment's
//! files) is xueliang-testkit's.
#![allow(dead_code)]

// One broker launcher for the whole workspace: xueliang-testkit.
pub use xueliang_testkit::broker;
pub mod http;

use xueliang_testkit::TempDatabase;

use broker::Broker;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xueliang_core::CameraId;
use xueliang_core::config::{Inventory, NodeConfig};
use xueliang_core::contract::{AlertV1, EventType, Severity};
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::consume::{ConsumeOptions, Consumer, ConsumerDeps, ConsumerHandle};
use xueliang_dispatcher::routing::Router;
use xueliang_dispatcher::store::{
    PostgresStore, SqlStore, SqliteStore, Store, StoreOptions, Synchronous,
};

/// The deployment the tests route with: `deploy/single-node`.
pub struct Deployment {
    pub node: NodeConfig,
    pub inventory: Arc<Inventory>,
    pub router: Arc<Router>,
    pub areas: Vec<xueliang_core::config::Area>,
}

pub fn deployment() -> Deployment {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let d = xueliang_testkit::deploy::single_node();
    let router = Router::new(&d.node, &d.jurisdictions).unwrap_or_else(|e| panic!("{e}"));
    Deployment {
        node: d.node,
        inventory: Arc::new(d.inventory),
        router: Arc::new(router),
        areas: d.jurisdictions.areas,
    }
}

/// A topic name unique to this run.
pub fn topic(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// `n` alerts spread over the inventory's cameras and every event type.
pub fn alerts(dep: &Deployment, n: usize) -> Vec<AlertV1> {
    let cams: Vec<CameraId> = dep.inventory.cameras.iter().map(|c| c.id.clone()).collect();
    (0..n)
        .map(|i| {
            AlertV1::new(
                cams[i % cams.len()].clone(),
                EventType::ALL[i % EventType::ALL.len()],
                Severity::Major,
                format!("rule-{}", i % 3),
                chrono::Utc::now(),
            )
        })
        .collect()
}

pub fn producer(broker: &Broker) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("acks", "all")
        .create()
        .expect("create test producer")
}

/// Publishes raw values keyed by `key` and waits until all are acknowledged.
pub fn publish_raw(p: &BaseProducer, topic: &str, msgs: &[(String, Vec<u8>)]) {
    for (k, v) in msgs {
        loop {
            match p.send(BaseRecord::to(topic).key(k.as_str()).payload(v.as_slice())) {
                Ok(()) => break,
                Err((e, _)) => {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "produce: {e}"
                    );
                    p.poll(Duration::from_millis(10));
                }
            }
        }
    }
    p.flush(Duration::from_secs(60))
        .expect("flush test producer");
}

pub fn publish(p: &BaseProducer, topic: &str, alerts: &[AlertV1]) {
    let msgs: Vec<_> = alerts
        .iter()
        .map(|a| (a.camera_id.to_string(), a.to_json()))
        .collect();
    publish_raw(p, topic, &msgs);
}

/// Kafka and dispatcher settings for one test.
pub fn configs(
    dep: &Deployment,
    broker: &Broker,
    alerts_topic: &str,
    dlq_topic: &str,
    instance: &str,
) -> (
    xueliang_core::config::KafkaConfig,
    xueliang_core::config::DispatcherConfig,
) {
    let mut k = dep.node.kafka.clone();
    k.brokers = broker.bootstrap();
    k.alerts_topic = alerts_topic.to_owned();
    k.dlq_topic = dlq_topic.to_owned();
    let mut d = dep.node.dispatcher.clone();
    d.group_id = format!("dispatcher-{alerts_topic}");
    d.instance_id = instance.to_owned();
    (k, d)
}

pub fn open_store(path: &Path) -> Arc<SqlStore> {
    Arc::new(SqliteStore::open(path, Synchronous::Full).expect("open store"))
}

/// Every backend the store tests run against: SQLite always, PostgreSQL when a test server
/// is configured (`XUELIANG_TEST_PG`, set by `./xl test`; under CI its absence is a failure,
/// not a skip). Each is fresh and empty; the PostgreSQL database is dropped with this value.
pub struct Backends {
    // Field order is drop order: the stores before the database they use.
    stores: Vec<(&'static str, Arc<SqlStore>)>,
    _pg: Option<TempDatabase>,
}

impl Backends {
    pub fn iter(&self) -> std::slice::Iter<'_, (&'static str, Arc<SqlStore>)> {
        self.stores.iter()
    }
}

impl<'a> IntoIterator for &'a Backends {
    type Item = &'a (&'static str, Arc<SqlStore>);
    type IntoIter = std::slice::Iter<'a, (&'static str, Arc<SqlStore>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.stores.iter()
    }
}

pub fn backends(dir: &Path, opts: StoreOptions) -> Backends {
    let mut stores = vec![(
        "sqlite",
        Arc::new(
            SqliteStore::open_with(&dir.join("backend.db"), Synchronous::Full, opts.clone())
                .expect("open sqlite"),
        ),
    )];
    let pg = TempDatabase::create_or_skip();
    if let Some(db) = &pg {
        stores.push((
            "postgres",
            Arc::new(PostgresStore::open(db.url(), opts).expect("open postgres")),
        ));
    }
    Backends { stores, _pg: pg }
}

/// Consumer options for tests. `session.timeout.ms` is deliberately left at librdkafka's
/// default: with it lowered to 6 s, tansu 0.6.0 often never answered the group's SyncGroup
/// (the consumer sat in `wait-sync` with no partitions until the broker dropped the
/// connection ~30 s later). `XL_KAFKA_DEBUG=cgrp` turns on librdkafka's group debug log.
pub fn test_options(batch_max: usize) -> ConsumeOptions {
    ConsumeOptions {
        batch_max,
        batch_linger: Duration::from_millis(20),
        librdkafka: std::env::var("XL_KAFKA_DEBUG")
            .ok()
            .map(|v| ("debug".into(), v))
            .into_iter()
            .collect(),
    }
}

/// Starts a consumer for `dep` storing into `store`.
pub fn start_consumer(
    dep: &Deployment,
    kafka: &xueliang_core::config::KafkaConfig,
    disp: &xueliang_core::config::DispatcherConfig,
    store: Arc<dyn Store>,
    opts: ConsumeOptions,
    shutdown: Shutdown,
) -> ConsumerHandle {
    let inv = dep.inventory.clone();
    let deps = ConsumerDeps {
        router: dep.router.clone(),
        cameras: Arc::new(move |id| inv.camera(id).cloned()),
        store,
        hub: None,
        partitions: xueliang_dispatcher::consume::Partitions::All,
    };
    Consumer::start(kafka, disp, deps, opts, shutdown).expect("start consumer")
}

/// Waits until the store holds `n` alerts; panics after `limit`.
pub async fn wait_count(store: &dyn Store, n: u64, limit: Duration, broker: &Broker) {
    let deadline = Instant::now() + limit;
    loop {
        let c = store.alert_count().await.expect("count");
        if c >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {c} of {n} alerts persisted after {limit:?}\n{}",
            broker.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Like [`wait_count`], printing progress (for diagnosing a stuck consumer).
pub async fn wait_count_verbose(
    store: &dyn Store,
    h: &ConsumerHandle,
    n: u64,
    limit: Duration,
    broker: &Broker,
) {
    let deadline = Instant::now() + limit;
    loop {
        let c = store.alert_count().await.expect("count");
        if c >= n {
            return;
        }
        eprintln!("persisted {c}/{n}, partitions {}", h.assigned_partitions());
        assert!(
            Instant::now() < deadline,
            "only {c} of {n} alerts persisted after {limit:?}\n{}",
            broker.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

/// A message read back from the DLQ.
#[derive(Debug)]
pub struct Dead {
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Dead {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(hk, _)| hk == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `n` messages from partition 0 of `topic` (no consumer group), waiting up to `limit`.
pub fn read_topic(broker: &Broker, topic: &str, n: usize, limit: Duration) -> Vec<Dead> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("create reader");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    c.assign(&tpl).expect("assign");
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|x| {
                            (
                                x.key.to_owned(),
                                String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Dead {
                payload: m.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
    }
    out
}

/// A scratch directory for the store.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("xl-dispatcher-")
        .tempdir()
        .expect("temp dir")
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("dispatcher.db")
}
