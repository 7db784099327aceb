//! `xueliang-bench dispatch`: alerts routed and persisted per second by the production
//! consumer, beside the broker's raw consume rate measured in the same run, and alert → push
//! latency at a paced rate. Prints a human summary on stderr and, as the last stdout line, one
//! JSON object.
//!
//! Design decisions:
//! - **Three phases on one broker.** (1) *Limit*: N alerts are produced into a fresh topic,
//!   then a plain rdkafka consumer in a fresh group reads them all and does nothing else —
//!   the broker's raw consume rate. (2) *Stage*: the production consumer
//!   (`Consumer::start` with the deployment's router, camera inventory and policy, a fresh
//!   store and a push hub, default `ConsumeOptions`) reads the same pre-filled topic in
//!   another fresh group: alerts decoded, routed, grouped into incidents and committed per
//!   second. (3) *Latency*: a fresh topic and a fresh dispatcher; a producer paced at
//!   `--rate` stamps each alert just before handing it to librdkafka, and a subscriber of the
//!   hub (what the desk's SSE stream reads) records now − stamp for every alert when the push
//!   that carries it arrives (pushes are coalesced per incident per batch: a push whose
//!   incident count grew by k carries that key's k oldest outstanding alerts).
//! - **The same clock edges for raw and stage.** Both rates run from the first message
//!   received to the last one done (read, resp. committed), so the consumer-group join — a
//!   few seconds on tansu, unrelated to the work — stays out of both. The stage's edges come
//!   from the dispatcher's own counters (`CONSUMED_TOTAL`, `PERSISTED_TOTAL`) through a small
//!   metrics recorder this command installs: the dispatcher runs unmodified and unpolled
//!   (polling `alert_count` would queue reads on the store thread being measured; the count
//!   is checked once, at the end of each phase).
//! - **Latency without changing the wire.** A push carries the incident, not the alert; the
//!   bench keeps each alert's publish stamp and settles it when its incident's count shows it
//!   arrived (alerts of one camera and event type arrive in order, on one partition).
//! - **Production settings.** SQLite with `synchronous=FULL` on disk (one fsync per batch is
//!   part of what is measured), the analyzer's producer settings (idempotent, acks=all,
//!   linger 5 ms), keys = camera ids of the deployment's inventory.
//! - **Both consumers poll alike**: `fetch.wait.max.ms` is the dispatcher's configured
//!   `dispatcher.fetch_wait_ms` (default 20), or `--fetch-wait-ms`. tansu 0.6.0 holds
//!   every fetch for about half of that wait (≥ 250 ms at librdkafka's default of 500) even
//!   when data is waiting, which caps the raw rate and dominates latency; Apache Kafka answers
//!   as soon as data is there. benches/RESULTS.md reports both settings.
//! - Without `--broker` it starts tansu as the integration tests do (binary from
//!   `$XUELIANG_TANSU` or the cache, SQLite storage in a temporary directory, a free loopback
//!   port) and stops it at the end.

use crate::tansu::{Deliveries, DeliveryContext, create_topic, start_broker};
use crate::{BenchDatabase, DEFAULT_CONFIG};
use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine as _;
use chrono::Utc;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer as _, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, DispatcherConfig, KafkaConfig, Settings};
use xueliang_core::contract::{AlertV1, DetectedObject, EventType, ModelRef, Severity, Snapshot};
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::clock::SystemClock;
use xueliang_dispatcher::consume::{self, ConsumeOptions, Consumer, ConsumerDeps};
use xueliang_dispatcher::policy::Policy;
use xueliang_dispatcher::push::{Hub, Push};
use xueliang_dispatcher::routing::Router;
use xueliang_dispatcher::store::{
    ChangeKind, PostgresStore, SqlStore, SqliteStore, Store, StoreOptions, Synchronous,
};
use xueliang_testkit::TempDatabase;
use xueliang_testkit::postgres as testkit_pg;

/// Size of a "small" alert on the wire.
const SMALL_ALERT_BYTES: usize = 2048;
/// Alerts sent before the latency phase, to get the group joined and the producer connected.
const WARM_UP: usize = 12;

/// What `bench dispatch` was asked to do (its CLI flags).
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Alerts produced and consumed in the throughput phases.
    #[arg(long, default_value_t = 20_000)]
    pub alerts: usize,
    /// Size in KB of an inline JPEG snapshot carried by every alert; 0 sends ~2 KB alerts
    /// (detected objects and a summary, no snapshot).
    #[arg(long, default_value_t = 0)]
    pub snapshot_kb: usize,
    /// Alerts per second produced in the latency phase.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Length of the latency phase in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Use this Kafka broker (HOST:PORT) instead of starting tansu.
    #[arg(long)]
    pub broker: Option<String>,
    /// Set `fetch.wait.max.ms` of both consumers (raw and dispatcher); default: the
    /// dispatcher's own setting.
    #[arg(long)]
    pub fetch_wait_ms: Option<u32>,
    /// Alert store: SQLite (synchronous=FULL, in a temporary directory) or a fresh
    /// PostgreSQL database on the server named by XUELIANG_TEST_PG (an admin URL).
    #[arg(long, value_enum, default_value_t = BenchDatabase::Sqlite)]
    pub database: BenchDatabase,
    /// Deployment whose routing tree, jurisdictions, cameras and policy to use.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    ensure!(o.alerts > 0, "--alerts must be at least 1");
    ensure!(o.rate > 0, "--rate must be at least 1 alert per second");
    ensure!(
        o.seconds > 0.0 && o.seconds.is_finite(),
        "--seconds must be a positive number"
    );
    let probes = Probes::install()?;
    let settings = xueliang::config_load::load(&o.config)
        .with_context(|| format!("loading the deployment {}", o.config.display()))?;
    let dep = Deployment::new(&settings, o.fetch_wait_ms)?;
    let scratch = tempfile::Builder::new()
        .prefix("xl-bench-dispatch-")
        .tempdir()
        .context("creating a temporary directory for the alert stores")?;
    let mut dbs = Databases::new(o.database, scratch.path())?;

    let mut tansu = None;
    let brokers = match &o.broker {
        Some(b) => b.clone(),
        None => {
            let t = on_thread(start_broker).await?;
            let b = t.bootstrap();
            tansu = Some(t);
            b
        }
    };
    let result = phases(&o, &dep, &probes, &mut dbs, &brokers).await;
    if let Some(mut t) = tansu {
        let failed = result.is_err();
        let tail = on_thread(move || {
            let tail = if failed { t.log_tail() } else { String::new() };
            t.stop();
            Ok(tail)
        })
        .await
        .unwrap_or_default();
        if !tail.is_empty() {
            eprintln!("tansu log (last lines):\n{tail}");
        }
    }
    dbs.cleanup().await;
    let report = result?;
    println!("{report}");
    Ok(())
}

/// Runs the three phases; returns the JSON line.
async fn phases(
    o: &Options,
    dep: &Deployment,
    probes: &Probes,
    dbs: &mut Databases,
    brokers: &str,
) -> anyhow::Result<serde_json::Value> {
    let n = o.alerts;
    let factory = Arc::new(AlertFactory::new(dep.camera_ids.clone(), o.snapshot_kb));
    let producer = Arc::new(BenchProducer::new(brokers)?);
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis() % 100_000_000
    );
    eprintln!(
        "dispatch bench: {n} alerts of ~{} B ({}), {} partitions, store {}, broker {brokers}",
        factory.bytes(),
        if o.snapshot_kb > 0 {
            format!("{} KB inline JPEG snapshot", o.snapshot_kb)
        } else {
            "objects and a summary, no snapshot".to_owned()
        },
        dep.kafka.partitions,
        o.database.as_str(),
    );

    // Phase 1: fill a topic, then read it back with a bare consumer.
    let topic = format!("bench-dispatch-{run_id}-limit");
    create_topic(brokers, &topic, dep.kafka.partitions).await?;
    let (p, f, t) = (producer.clone(), factory.clone(), topic.clone());
    let produce_s = on_thread(move || p.produce_all(&t, &f, n)).await?;
    eprintln!(
        "  produced {n} in {produce_s:.2} s ({:.0}/s, idempotent, acks=all)",
        n as f64 / produce_s
    );
    let (b, t, limit) = (
        brokers.to_owned(),
        topic.clone(),
        patience(n, factory.bytes()),
    );
    let extra = dep.librdkafka.clone();
    let raw = on_thread(move || raw_consume(&b, &t, n, limit, &extra)).await?;
    let raw_per_s = n as f64 / raw.seconds;
    eprintln!(
        "  raw consume:  {raw_per_s:>9.0} msgs/s ({:.1} MB/s; joined the group in {:.2} s)",
        raw.bytes as f64 / raw.seconds / 1e6,
        raw.join_s
    );

    // Phase 2: the production consumer on the same topic.
    let stage = run_stage(dep, probes, dbs, brokers, &topic, n, factory.bytes()).await?;
    let stage_per_s = n as f64 / stage.seconds;
    let ratio = stage_per_s / raw_per_s;
    eprintln!(
        "  dispatcher:   {stage_per_s:>9.0} alerts/s routed and persisted ({} incidents, {} pushes) \
         = {ratio:.2}x raw (target >= 0.8; >= 5,000/s for small alerts on SQLite)",
        stage.incidents, stage.pushes
    );

    // Phase 3: paced alerts, alert → push latency.
    let lat = run_latency(o, dep, probes, dbs, brokers, &producer, &factory, &run_id).await?;
    eprintln!(
        "  latency at {} alerts/s for {:.1} s ({} sent at {:.0}/s): {} pushes ({} created, {} \
         updated); alert → push p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
         (target p99 < 100 ms)",
        o.rate,
        o.seconds,
        lat.sent,
        lat.achieved_rate,
        lat.pushes,
        lat.created,
        lat.updated,
        lat.p50,
        lat.p95,
        lat.p99,
        lat.max
    );
    Ok(json!({
        "bench": "dispatch",
        "alerts": n,
        "snapshot_kb": o.snapshot_kb,
        "alert_bytes": factory.bytes(),
        "database": o.database.as_str(),
        "partitions": dep.kafka.partitions,
        "broker": if o.broker.is_some() { "external" } else { "tansu" },
        "fetch_wait_ms": dep.fetch_wait_ms(),
        "produce_per_s": n as f64 / produce_s,
        "raw_consume_per_s": raw_per_s,
        "alerts_per_s": stage_per_s,
        "ratio": ratio,
        "incidents": stage.incidents,
        "rate": o.rate,
        "achieved_rate": lat.achieved_rate,
        "latency_alerts": lat.sent,
        "pushes": lat.pushes,
        "pushes_created": lat.created,
        "pushes_updated": lat.updated,
        "p50_ms": lat.p50,
        "p95_ms": lat.p95,
        "p99_ms": lat.p99,
        "max_ms": lat.max,
    }))
}

/// How long a phase of `n` alerts may take before the bench gives up: generous, so that a
/// slow machine still yields a (slow) figure rather than an error.
fn patience(n: usize, bytes: usize) -> Duration {
    Duration::from_secs(60) + Duration::from_secs_f64(n as f64 * (1e-3 + bytes as f64 * 1e-7))
}

// ---- the deployment -------------------------------------------------------------------------

/// What the dispatcher needs from the configuration.
struct Deployment {
    kafka: KafkaConfig,
    dispatcher: DispatcherConfig,
    router: Arc<Router>,
    cameras: Arc<HashMap<CameraId, CameraConfig>>,
    camera_ids: Vec<CameraId>,
    policy: Policy,
    /// Extra librdkafka settings of both consumers (`--fetch-wait-ms`).
    librdkafka: Vec<(String, String)>,
}

impl Deployment {
    fn new(s: &Settings, fetch_wait_ms: Option<u32>) -> anyhow::Result<Deployment> {
        let router = Router::new(&s.node, &s.jurisdictions)?;
        let camera_ids: Vec<CameraId> = s.inventory.cameras.iter().map(|c| c.id.clone()).collect();
        ensure!(
            !camera_ids.is_empty(),
            "the camera inventory {} has no camera to key alerts by",
            s.node.cameras_file.display()
        );
        Ok(Deployment {
            kafka: s.node.kafka.clone(),
            dispatcher: s.node.dispatcher.clone(),
            router: Arc::new(router),
            cameras: Arc::new(
                s.inventory
                    .cameras
                    .iter()
                    .map(|c| (c.id.clone(), c.clone()))
                    .collect(),
            ),
            camera_ids,
            policy: Policy::from_config(&s.node),
            // Both consumers poll alike: the dispatcher's configured fetch wait unless
            // `--fetch-wait-ms` overrides it.
            librdkafka: vec![(
                "fetch.wait.max.ms".to_owned(),
                fetch_wait_ms
                    .map(u64::from)
                    .unwrap_or(s.node.dispatcher.fetch_wait.as_millis() as u64)
                    .to_string(),
            )],
        })
    }

    fn fetch_wait_ms(&self) -> u64 {
        self.librdkafka
            .iter()
            .find(|(k, _)| k == "fetch.wait.max.ms")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }

    /// Kafka and dispatcher settings for one phase: its own topic, group and instance id.
    fn configs(&self, brokers: &str, topic: &str) -> (KafkaConfig, DispatcherConfig) {
        let mut k = self.kafka.clone();
        k.brokers = brokers.to_owned();
        k.alerts_topic = topic.to_owned();
        k.dlq_topic = format!("{topic}.dlq");
        let mut d = self.dispatcher.clone();
        d.group_id = format!("dispatcher-{topic}");
        d.instance_id = format!("bench-{topic}");
        (k, d)
    }

    /// The production consumer's options, plus `--fetch-wait-ms`.
    fn consume_options(&self) -> ConsumeOptions {
        ConsumeOptions {
            librdkafka: self.librdkafka.clone(),
            ..ConsumeOptions::default()
        }
    }

    fn deps(&self, store: Arc<SqlStore>, hub: &Hub) -> ConsumerDeps {
        let cameras = self.cameras.clone();
        ConsumerDeps {
            router: self.router.clone(),
            cameras: Arc::new(move |id| cameras.get(id).cloned()),
            store,
            hub: Some(hub.clone()),
            partitions: xueliang_dispatcher::consume::Partitions::All,
        }
    }
}

// ---- alerts ---------------------------------------------------------------------------------

/// Realistic alerts: detection events carry six tracked objects, a zone, the frame size and
/// the model; camera faults carry none of that. Summaries are padded so that every alert is
/// about [`SMALL_ALERT_BYTES`] before its snapshot.
pub(crate) struct AlertFactory {
    cameras: Vec<CameraId>,
    /// Base64 JPEG-sized random payloads, reused round-robin (random, so no layer can
    /// compress them away).
    snapshots: Vec<String>,
    bytes: usize,
}

impl AlertFactory {
    pub(crate) fn new(cameras: Vec<CameraId>, snapshot_kb: usize) -> AlertFactory {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let snapshots = if snapshot_kb == 0 {
            Vec::new()
        } else {
            (0..8)
                .map(|_| {
                    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
                    while jpeg.len() < snapshot_kb * 1024 - 2 {
                        // xorshift64*: enough randomness, no dependency.
                        rng ^= rng >> 12;
                        rng ^= rng << 25;
                        rng ^= rng >> 27;
                        jpeg.extend_from_slice(
                            &rng.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes(),
                        );
                    }
                    jpeg.truncate(snapshot_kb * 1024 - 2);
                    jpeg.extend_from_slice(&[0xFF, 0xD9]);
                    base64::engine::general_purpose::STANDARD.encode(jpeg)
                })
                .collect()
        };
        let mut f = AlertFactory {
            cameras,
            snapshots,
            bytes: 0,
        };
        let sizes: Vec<usize> = (0..64).map(|i| f.make(i).to_json().len()).collect();
        f.bytes = sizes.iter().sum::<usize>() / sizes.len();
        f
    }

    /// Mean size of an alert on the wire in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Alert `i`: every camera in turn, every event type, stamped now.
    pub(crate) fn make(&self, i: usize) -> AlertV1 {
        let cams = self.cameras.len();
        let event = EventType::ALL[(i / cams) % EventType::ALL.len()];
        let severity = [
            Severity::Minor,
            Severity::Major,
            Severity::Major,
            Severity::Critical,
        ][i % 4];
        let now = Utc::now();
        let mut a = AlertV1::new(
            self.cameras[i % cams].clone(),
            event,
            severity,
            format!("bench-{}", event.as_str()),
            now,
        );
        let summary = if event.is_camera_fault() {
            format!("camera fault: {} for 12 s", event.as_str())
        } else {
            const CLASSES: [&str; 6] = ["person", "person", "car", "person", "truck", "bicycle"];
            a.objects = CLASSES
                .iter()
                .enumerate()
                .map(|(k, class)| {
                    let x = 120.0 + 260.0 * k as f32 + (i % 97) as f32;
                    DetectedObject {
                        class: (*class).to_owned(),
                        score: 0.55 + 0.07 * k as f32,
                        bbox: [x, 410.5, x + 180.25, 890.75],
                        track: Some((i * 6 + k) as u64),
                    }
                })
                .collect();
            a.zone_id = Some("plaza".into());
            a.frame_size = Some([1920, 1080]);
            a.model = Some(ModelRef {
                name: "nanodet-m-416".into(),
                version: "1.0.0".into(),
            });
            format!(
                "{}: 3 persons, 1 car, 1 truck, 1 bicycle for 42 s in zone plaza",
                event.as_str()
            )
        };
        let pad = SMALL_ALERT_BYTES.saturating_sub(a.to_json().len() + summary.len() + 14);
        const FILLER: &str = "; tracks stable, zone plaza armed, schedule always, cooldown 10 s";
        a.summary = summary + &FILLER.repeat(pad / FILLER.len() + 1)[..pad];
        if !self.snapshots.is_empty() {
            a.snapshot = Some(Snapshot::Inline {
                content_type: "image/jpeg".into(),
                data_base64: self.snapshots[i % self.snapshots.len()].clone(),
            });
        }
        a
    }
}

// ---- Kafka ----------------------------------------------------------------------------------

/// The analyzer's producer settings (idempotent, acks=all, linger 5 ms), keyed by camera.
struct BenchProducer {
    producer: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
}

impl BenchProducer {
    fn new(brokers: &str) -> anyhow::Result<BenchProducer> {
        let deliveries = Arc::new(Deliveries::default());
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "xueliang-bench-dispatch")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.messages", "200000")
            .create_with_context(DeliveryContext(deliveries.clone()))
            .with_context(|| format!("creating a Kafka producer for {brokers}"))?;
        Ok(BenchProducer {
            producer,
            deliveries,
        })
    }

    /// Hands one alert to librdkafka, waiting while its queue is full.
    fn send(&self, topic: &str, a: &AlertV1) -> anyhow::Result<()> {
        let payload = a.to_json();
        let mut record = BaseRecord::to(topic)
            .key(a.camera_id.as_str())
            .payload(&payload);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => bail!("producing to {topic}: {e}"),
            }
        }
    }

    /// Waits until every alert handed over so far was acknowledged; fails on any error.
    fn flush(&self, expected: u64) -> anyhow::Result<()> {
        self.producer
            .flush(Duration::from_secs(300))
            .context("flushing the bench producer")?;
        let d = &self.deliveries;
        let failed = d.failed.load(Ordering::Relaxed);
        ensure!(
            failed == 0,
            "{failed} alerts were not delivered to the broker: {}",
            d.last_error
                .lock()
                .expect("delivery lock")
                .clone()
                .unwrap_or_default()
        );
        let ok = d.ok.load(Ordering::Relaxed);
        ensure!(
            ok == expected,
            "the broker acknowledged {ok} alerts, expected {expected}"
        );
        Ok(())
    }

    /// Produces `n` alerts as fast as the broker takes them; returns the seconds it took.
    fn produce_all(&self, topic: &str, f: &AlertFactory, n: usize) -> anyhow::Result<f64> {
        let before = self.deliveries.ok.load(Ordering::Relaxed);
        let t0 = Instant::now();
        for i in 0..n {
            self.send(topic, &f.make(i))?;
        }
        self.flush(before + n as u64)?;
        Ok(t0.elapsed().as_secs_f64())
    }
}

struct Raw {
    /// From the first message received to the last.
    seconds: f64,
    /// From subscribing to the first message.
    join_s: f64,
    bytes: u64,
}

/// Reads `n` messages of `topic` in a fresh group and does nothing with them.
fn raw_consume(
    brokers: &str,
    topic: &str,
    n: usize,
    limit: Duration,
    extra: &[(String, String)],
) -> anyhow::Result<Raw> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("group.id", format!("raw-{topic}"))
        // Static membership, like the dispatcher (tansu's group defect, deploy/KAFKA.md).
        .set("group.instance.id", format!("raw-{topic}"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    for (k, v) in extra {
        cfg.set(k, v);
    }
    let c: BaseConsumer = cfg
        .create()
        .with_context(|| format!("creating the raw consumer for {brokers}"))?;
    c.subscribe(&[topic])
        .with_context(|| format!("subscribing to {topic}"))?;
    let t0 = Instant::now();
    let (mut got, mut bytes, mut first) = (0usize, 0u64, None);
    while got < n {
        ensure!(
            t0.elapsed() < limit,
            "the raw consumer read only {got} of {n} messages of {topic} in {limit:?}"
        );
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                got += 1;
                bytes += m.payload().map_or(0, |p| p.len() as u64);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "raw consumer"),
            None => {}
        }
    }
    let first = first.expect("at least one message");
    Ok(Raw {
        seconds: first.elapsed().as_secs_f64().max(1e-6),
        join_s: (first - t0).as_secs_f64(),
        bytes,
    })
}

// ---- the dispatcher stage -------------------------------------------------------------------

struct Stage {
    seconds: f64,
    incidents: usize,
    pushes: u64,
}

/// Runs the production consumer over a topic already holding `n` alerts.
async fn run_stage(
    dep: &Deployment,
    probes: &Probes,
    dbs: &mut Databases,
    brokers: &str,
    topic: &str,
    n: usize,
    bytes: usize,
) -> anyhow::Result<Stage> {
    let store = dbs.open("stage", dep.policy.clone()).await?;
    let hub = Hub::new();
    // A desk watching live, as in production; it also counts one push per new alert.
    let pushes = Arc::new(AtomicU64::new(0));
    let mut incidents = std::collections::HashSet::new();
    let mut rx = hub.subscribe();
    let count = pushes.clone();
    let watcher = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(p) => {
                    if let Push::Incident(c, _) = &*p {
                        incidents.insert(c.incident.id);
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Err(RecvError::Lagged(k)) => {
                    count.fetch_add(k, Ordering::Relaxed);
                }
                Err(RecvError::Closed) => return incidents.len(),
            }
        }
    });
    probes.arm(n as u64);
    let (kafka, disp) = dep.configs(brokers, topic);
    let shutdown = Shutdown::new();
    let consumer = Consumer::start(
        &kafka,
        &disp,
        dep.deps(store.clone(), &hub),
        dep.consume_options(),
        shutdown.clone(),
    )
    .context("starting the dispatcher's alert consumer")?;
    let limit = patience(n, bytes);
    let done = probes.persisted.wait(limit).await;
    shutdown.trigger();
    consumer.join().await.context("the alert consumer")?;
    probes.check_clean()?;
    ensure!(
        done,
        "the dispatcher persisted only {} of {n} alerts within {limit:?} (consumed {})",
        probes.persisted.total(),
        probes.consumed.total()
    );
    let (first, _) = probes.consumed.edges();
    let (_, last) = probes.persisted.edges();
    let seconds = (last.expect("reached") - first.expect("consumed"))
        .as_secs_f64()
        .max(1e-6);
    let stored = store
        .alert_count()
        .await
        .context("counting stored alerts")?;
    ensure!(
        stored == n as u64,
        "the store holds {stored} alerts after the stage phase, expected {n}"
    );
    drop(hub);
    let incidents = watcher.await.unwrap_or(0);
    Ok(Stage {
        seconds,
        incidents,
        pushes: pushes.load(Ordering::Relaxed),
    })
}

struct Latency {
    sent: usize,
    achieved_rate: f64,
    pushes: usize,
    created: usize,
    updated: usize,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

/// A fresh topic and dispatcher; alerts paced at `rate`; alert → push for every alert.
#[allow(clippy::too_many_arguments)]
async fn run_latency(
    o: &Options,
    dep: &Deployment,
    probes: &Probes,
    dbs: &mut Databases,
    brokers: &str,
    producer: &Arc<BenchProducer>,
    factory: &Arc<AlertFactory>,
    run_id: &str,
) -> anyhow::Result<Latency> {
    let topic = format!("bench-dispatch-{run_id}-latency");
    create_topic(brokers, &topic, dep.kafka.partitions).await?;
    let store = dbs.open("latency", dep.policy.clone()).await?;
    let hub = Hub::new();
    let total = ((o.rate as f64 * o.seconds).round() as usize).max(1);
    probes.arm((WARM_UP + total) as u64);
    let (kafka, disp) = dep.configs(brokers, &topic);
    let shutdown = Shutdown::new();
    let consumer = Consumer::start(
        &kafka,
        &disp,
        dep.deps(store.clone(), &hub),
        dep.consume_options(),
        shutdown.clone(),
    )
    .context("starting the dispatcher's alert consumer")?;

    // Warm-up: the group joined, the producer connected, the store's pages warm.
    let mut warm = hub.subscribe();
    let (p, f, t) = (producer.clone(), factory.clone(), topic.clone());
    on_thread(move || {
        (0..WARM_UP).try_for_each(|i| p.send(&t, &f.make(i)))?;
        Ok(())
    })
    .await?;
    // Pushes are coalesced per incident per batch, so alerts are counted through the
    // incidents' cumulative alert counts, not one push each.
    let mut counts = HashMap::new();
    let joined = tokio::time::timeout(Duration::from_secs(90), async {
        let mut got = 0;
        while got < WARM_UP {
            match warm.recv().await {
                Ok(p) => {
                    if let Push::Incident(c, _) = &*p {
                        let prev = counts.insert(c.incident.id, c.incident.alert_count);
                        got += (c.incident.alert_count - prev.unwrap_or(0)) as usize;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    })
    .await;
    drop(warm);
    if joined.is_err() {
        let partitions = consumer.assigned_partitions();
        shutdown.trigger();
        let _ = consumer.join().await;
        bail!(
            "the dispatcher did not push the {WARM_UP} warm-up alerts within 90 s \
             ({} persisted, {} partitions assigned at the last check)",
            probes.persisted.total(),
            partitions
        );
    }

    // The measured run: one subscriber, the paced producer. The producer queues each alert's
    // stamp under its camera and event type (one incident each here: the run is far shorter
    // than the grouping window); a push whose incident count grew by k settles the k oldest
    // stamps of that key, so every alert gets its own alert → push latency even when one push
    // carries several alerts.
    type Key = (CameraId, EventType);
    let stamps: Arc<Mutex<HashMap<Key, std::collections::VecDeque<chrono::DateTime<Utc>>>>> =
        Arc::default();
    let mut rx = hub.subscribe();
    let pending = stamps.clone();
    let collector = tokio::spawn(async move {
        let (mut lat, mut pushes, mut created, mut updated, mut lagged) =
            (Vec::new(), 0usize, 0, 0, 0u64);
        while lat.len() < total {
            match rx.recv().await {
                Ok(p) => {
                    let now = Utc::now();
                    if let Push::Incident(c, _) = &*p {
                        let inc = &c.incident;
                        let prev = counts.insert(inc.id, inc.alert_count).unwrap_or(0);
                        let mut queue = pending.lock().expect("stamps lock");
                        let key = (inc.camera_id.clone(), inc.event_type);
                        let q = queue.entry(key).or_default();
                        for _ in prev..inc.alert_count {
                            let Some(stamp) = q.pop_front() else { break };
                            lat.push((now - stamp).num_microseconds().unwrap_or(0) as f64 / 1e3);
                        }
                        pushes += 1;
                        match c.kind {
                            ChangeKind::Created => created += 1,
                            ChangeKind::Updated => updated += 1,
                            _ => {}
                        }
                    }
                }
                Err(RecvError::Lagged(k)) => lagged += k,
                Err(RecvError::Closed) => break,
            }
        }
        (lat, pushes, created, updated, lagged)
    });
    let (p, f, t, rate) = (producer.clone(), factory.clone(), topic.clone(), o.rate);
    let send_s = on_thread(move || {
        let before = p.deliveries.ok.load(Ordering::Relaxed);
        let t0 = Instant::now();
        for i in 0..total {
            let due = t0 + Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let mut a = f.make(WARM_UP + i);
            let now = Utc::now();
            (a.captured_at, a.detected_at, a.published_at) = (now, now, now);
            stamps
                .lock()
                .expect("stamps lock")
                .entry((a.camera_id.clone(), a.event_type))
                .or_default()
                .push_back(now);
            p.send(&t, &a)?;
        }
        let s = t0.elapsed().as_secs_f64();
        p.flush(before + total as u64)?;
        Ok(s)
    })
    .await?;
    // Over capacity, the backlog drains after the last send.
    let limit = patience(WARM_UP + total, factory.bytes());
    let done = probes.persisted.wait(limit).await;
    // Every push of a persisted alert is published right after its commit.
    let collected = tokio::time::timeout(Duration::from_secs(5), collector).await;
    shutdown.trigger();
    consumer.join().await.context("the alert consumer")?;
    probes.check_clean()?;
    ensure!(
        done,
        "the dispatcher persisted only {} of {} alerts within {limit:?} of the last send",
        probes.persisted.total(),
        WARM_UP + total
    );
    let (mut lat, pushes, created, updated, lagged) = collected
        .map_err(|_| anyhow!("the pushes did not account for every alert"))?
        .map_err(|_| anyhow!("the push subscriber task failed"))?;
    ensure!(
        lagged == 0,
        "the push subscriber fell {lagged} changes behind; latency figures would be incomplete"
    );
    let stored = store
        .alert_count()
        .await
        .context("counting stored alerts")?;
    ensure!(
        stored == (WARM_UP + total) as u64,
        "the store holds {stored} alerts after the latency phase, expected {}",
        WARM_UP + total
    );
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
    Ok(Latency {
        sent: total,
        achieved_rate: total as f64 / send_s.max(1e-6),
        pushes,
        created,
        updated,
        p50: q(0.50),
        p95: q(0.95),
        p99: q(0.99),
        max: lat[lat.len() - 1],
    })
}

// ---- the dispatcher's counters as clock edges -----------------------------------------------

/// One of the dispatcher's counters: when it first moved, and when it reached a target.
#[derive(Default)]
struct Probe {
    state: Mutex<ProbeState>,
    reached: tokio::sync::Notify,
}

#[derive(Default)]
struct ProbeState {
    total: u64,
    target: u64,
    first: Option<Instant>,
    reached: Option<Instant>,
}

impl Probe {
    fn arm(&self, target: u64) {
        *self.state.lock().expect("probe lock") = ProbeState {
            target,
            ..ProbeState::default()
        };
    }

    fn total(&self) -> u64 {
        self.state.lock().expect("probe lock").total
    }

    /// When the counter first moved and when it reached the target.
    fn edges(&self) -> (Option<Instant>, Option<Instant>) {
        let s = self.state.lock().expect("probe lock");
        (s.first, s.reached)
    }

    /// `true` once the target is reached; `false` after `limit`.
    async fn wait(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.edges().1.is_some() {
                return true;
            }
            tokio::select! {
                _ = self.reached.notified() => {}
                _ = tokio::time::sleep_until(deadline) => return self.edges().1.is_some(),
            }
        }
    }
}

impl metrics::CounterFn for Probe {
    fn increment(&self, v: u64) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("probe lock");
        s.total += v;
        s.first.get_or_insert(now);
        if s.reached.is_none() && s.target > 0 && s.total >= s.target {
            s.reached = Some(now);
            drop(s);
            self.reached.notify_one();
        }
    }

    fn absolute(&self, v: u64) {
        let mut s = self.state.lock().expect("probe lock");
        s.total = s.total.max(v);
    }
}

/// The metrics recorder of this command: the counters it times by, and those that must stay
/// at zero for a figure to count.
struct Probes {
    consumed: Arc<Probe>,
    persisted: Arc<Probe>,
    bad: Arc<AtomicU64>,
}

struct ProbeRecorder {
    consumed: Arc<Probe>,
    persisted: Arc<Probe>,
    bad: Arc<AtomicU64>,
}

impl Probes {
    fn install() -> anyhow::Result<Probes> {
        let p = Probes {
            consumed: Arc::default(),
            persisted: Arc::default(),
            bad: Arc::default(),
        };
        metrics::set_global_recorder(ProbeRecorder {
            consumed: p.consumed.clone(),
            persisted: p.persisted.clone(),
            bad: p.bad.clone(),
        })
        .map_err(|_| anyhow!("a metrics recorder is already installed in this process"))?;
        Ok(p)
    }

    fn arm(&self, target: u64) {
        self.consumed.arm(0);
        self.persisted.arm(target);
        self.bad.store(0, Ordering::Relaxed);
    }

    /// Fails if the phase dead-lettered, duplicated or had to retry anything: its figure
    /// would not be the plain path's.
    fn check_clean(&self) -> anyhow::Result<()> {
        let bad = self.bad.load(Ordering::Relaxed);
        ensure!(
            bad == 0,
            "{bad} alerts were dead-lettered, duplicated or hit store errors (RUST_LOG=warn \
             shows which)"
        );
        Ok(())
    }
}

impl metrics::Recorder for ProbeRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let name = key.name();
        if name == consume::CONSUMED_TOTAL {
            metrics::Counter::from_arc(self.consumed.clone())
        } else if name == consume::PERSISTED_TOTAL {
            metrics::Counter::from_arc(self.persisted.clone())
        } else if name == consume::DEAD_LETTERED_TOTAL
            || name == consume::DUPLICATES_TOTAL
            || name == consume::STORE_ERRORS_TOTAL
        {
            metrics::Counter::from_arc(self.bad.clone())
        } else {
            metrics::Counter::noop()
        }
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

// ---- stores ---------------------------------------------------------------------------------

/// Fresh, empty stores for each phase; PostgreSQL databases (xueliang-testkit's throwaway
/// ones) are dropped at the end, or when this value is.
struct Databases {
    kind: BenchDatabase,
    dir: PathBuf,
    pg_admin: Option<String>,
    created: Vec<TempDatabase>,
}

impl Databases {
    fn new(kind: BenchDatabase, dir: &Path) -> anyhow::Result<Databases> {
        let pg_admin = match kind {
            BenchDatabase::Sqlite => None,
            BenchDatabase::Postgres => {
                Some(testkit_pg::admin_url().map_err(|fix| anyhow!("--database postgres: {fix}"))?)
            }
        };
        Ok(Databases {
            kind,
            dir: dir.to_owned(),
            pg_admin,
            created: Vec::new(),
        })
    }

    async fn open(&mut self, phase: &str, policy: Policy) -> anyhow::Result<Arc<SqlStore>> {
        let opts = StoreOptions {
            policy,
            clock: Arc::new(SystemClock),
        };
        let store = match (self.kind, &self.pg_admin) {
            (BenchDatabase::Postgres, Some(admin)) => {
                let (a, label) = (admin.clone(), format!("bench_{phase}"));
                let db = on_thread(move || {
                    TempDatabase::create_on(&a, &label).map_err(|e| anyhow!("{e}"))
                })
                .await?;
                let url = db.url().to_owned();
                self.created.push(db);
                on_thread(move || Ok(PostgresStore::open(&url, opts)?)).await?
            }
            _ => {
                let path = self.dir.join(format!("{phase}.db"));
                on_thread(move || Ok(SqliteStore::open_with(&path, Synchronous::Full, opts)?))
                    .await?
            }
        };
        Ok(Arc::new(store))
    }

    /// Drops the PostgreSQL databases this run created (SQLite files go with the temp dir),
    /// off the runtime; a database that cannot be dropped is reported, not fatal.
    async fn cleanup(&mut self) {
        let created = std::mem::take(&mut self.created);
        if !created.is_empty() {
            let _ = on_thread(move || {
                drop(created);
                Ok(())
            })
            .await;
        }
    }
}

/// Runs blocking work on a plain thread (not the runtime's blocking pool: the synchronous
/// `postgres` client starts its own runtime, which tokio forbids inside one).
async fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-dispatch".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .context("starting a bench thread")?;
    rx.await.map_err(|_| anyhow!("a bench thread panicked"))?
}
