//! The node under test, wired exactly as `xueliang run` wires it
//! (`xueliang_analyzer::edge::start`, `xueliang_dispatcher::role::start`), from a deployment generated out of a template
//! (`deploy/single-node` by default): its node settings, desks, routing and jurisdictions, with
//! the broker, topics, listen addresses and data directory of this run, and an inventory of
//! camsim cameras.
//!
//! Every camera stands where the template's first camera stands (so every alert routes to a
//! station desk) and carries one rule that fires steadily on the street clip: a person
//! entering a zone covering the whole frame, 5 s cooldown. That is the alert stream whose
//! latency is measured.
//!
//! Latency is observed from outside the pipeline, in two legs, against the capture time the
//! alert carries (`captured_at`: camsim's RTCP sender-report clock, mapped by ingest):
//! - *alert in Kafka*: a bare consumer (partitions assigned, no group, 10 ms fetch wait)
//!   reading the alerts topic records when it receives each alert;
//! - *pushed to a desk*: a subscriber of the dispatcher's push hub (what every desk's
//!   Server-Sent Events stream reads) records when an incident change naming the alert is
//!   pushed.
//!
//! The dispatcher, the camera simulator and the broker run for the whole bench; the edge
//! (ingest + analyzer + publisher) is started afresh for each step with that step's cameras
//! and sampling policy, and drained at its end.

use super::limits::{assigned_consumer, create_topic};
use anyhow::Context;
use chrono::{DateTime, Utc};
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use xueliang_core::config::{Sampling, Settings};
use xueliang_core::contract::AlertV1;
use xueliang_core::shutdown::Shutdown;
use xueliang_core::supervise::Tasks;
use xueliang_dispatcher::push::{Hub, Push};
use xueliang_dispatcher::store::ChangeKind;

/// The generated deployment: files in a temporary directory, and the settings loaded from
/// them with every camera (the dispatcher's inventory).
pub struct Deployment {
    _dir: tempfile::TempDir,
    pub settings: Settings,
    /// camsim's URL of each camera index.
    urls: Vec<String>,
}

/// Camera `i`'s id: a GB/T 28181 style 20-digit code.
pub fn camera_id(i: usize) -> String {
    format!("4403040000132{:07}", i + 1)
}

impl Deployment {
    /// Writes the deployment for `cameras` camsim cameras and loads it.
    pub fn new(
        template: &Path,
        camsim_url: &dyn Fn(usize) -> String,
        cameras: usize,
        brokers: &str,
        topic: &str,
    ) -> anyhow::Result<Deployment> {
        let tpl = xueliang::config_load::load(template)
            .with_context(|| format!("loading the template deployment {}", template.display()))?;
        let text = std::fs::read_to_string(template)
            .with_context(|| format!("reading {}", template.display()))?;
        let mut node: toml::Table = text
            .parse()
            .with_context(|| format!("parsing {}", template.display()))?;
        let set = |t: &mut toml::Table, section: &str, key: &str, v: toml::Value| {
            let s = t
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(s) = s.as_table_mut() {
                s.insert(key.to_owned(), v);
            }
        };
        let s = |v: &str| toml::Value::String(v.to_owned());
        set(&mut node, "node", "name", s("bench-e2e"));
        set(&mut node, "node", "data_dir", s("data"));
        set(&mut node, "http", "listen", s("127.0.0.1:0"));
        set(&mut node, "kafka", "brokers", s(brokers));
        set(&mut node, "kafka", "alerts_topic", s(topic));
        set(&mut node, "kafka", "dlq_topic", s(&format!("{topic}.dlq")));
        set(&mut node, "inventory", "cameras", s("cameras.toml"));
        let jur = tpl
            .node
            .jurisdictions_file
            .canonicalize()
            .with_context(|| {
                format!(
                    "finding the template's jurisdictions {}",
                    tpl.node.jurisdictions_file.display()
                )
            })?;
        set(
            &mut node,
            "inventory",
            "jurisdictions",
            s(&jur.to_string_lossy()),
        );
        set(&mut node, "dispatcher", "listen", s("127.0.0.1:0"));
        set(
            &mut node,
            "dispatcher",
            "database",
            s("sqlite://dispatcher.db"),
        );
        set(
            &mut node,
            "dispatcher",
            "group_id",
            s(&format!("{topic}-d")),
        );

        let (lat, lon) = tpl
            .inventory
            .cameras
            .first()
            .map_or((22.5410, 114.0520), |c| (c.location.lat, c.location.lon));
        let mut cams = String::from(
            "# Generated by `xueliang-bench e2e`: camsim cameras, one steady rule each.\n\
             [defaults]\ntransport = \"tcp\"\nsampling = \"keyframes\"\n",
        );
        for i in 0..cameras {
            write!(
                cams,
                "\n[[camera]]\nid = \"{}\"\nname = \"bench camera {i}\"\nurl = \"{}\"\n\
                 location = {{ lat = {lat}, lon = {lon} }}\ntier = \"police\"\n\n\
                 \x20 [[camera.rule]]\n  id = \"bench-intrusion\"\n  kind = \"zone_intrusion\"\n\
                 \x20 classes = [\"person\"]\n\
                 \x20 zone = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\
                 \x20 cooldown_s = 5\n",
                camera_id(i),
                camsim_url(i),
            )?;
        }
        let dir = tempfile::Builder::new()
            .prefix("xl-bench-e2e-")
            .tempdir()
            .context("creating a temporary directory for the deployment")?;
        std::fs::write(dir.path().join("cameras.toml"), cams)?;
        let node_file = dir.path().join("xueliang.toml");
        std::fs::write(&node_file, toml::to_string(&node)?)?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        let settings =
            xueliang::config_load::load(&node_file).context("loading the generated deployment")?;
        Ok(Deployment {
            _dir: dir,
            settings,
            urls: (0..cameras).map(camsim_url).collect(),
        })
    }

    /// Settings of one step: the first `n` cameras, all with `sampling`, reading camsim
    /// cameras spread evenly over all it serves. camsim spreads its cameras' keyframes evenly
    /// over the GOP across *all* its cameras, so the first `n` of 1,000 would send their
    /// keyframes within a few milliseconds of each other — a burst no real set of cameras
    /// produces.
    pub fn step(&self, n: usize, sampling: Sampling) -> Settings {
        let mut s = self.settings.clone();
        s.inventory.cameras.truncate(n);
        let total = self.urls.len();
        for (j, c) in s.inventory.cameras.iter_mut().enumerate() {
            c.sampling = sampling;
            c.url = self.urls[j * total / n.max(1)].clone();
        }
        s
    }
}

// ---- what was seen of each alert -------------------------------------------------------------

#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub camera: String,
    pub captured: Option<DateTime<Utc>>,
    /// The alert's own stamps: rules fired (`detected_at`), handed to the publisher
    /// (`published_at`).
    pub detected: Option<DateTime<Utc>>,
    pub published: Option<DateTime<Utc>>,
    pub in_kafka: Option<DateTime<Utc>>,
    pub pushed: Option<DateTime<Utc>>,
    /// A detection (rule) alert, not a camera fault.
    pub detection: bool,
    pub bytes: usize,
}

/// Every alert the Kafka observer saw, by alert id, and every push the hub made, by camera
/// and the incident's `last_seen`.
///
/// A push carries the incident, not the alert (and not its alert ids); but an incident's
/// `last_seen` is the capture time of its newest alert, and one camera's alerts reach the
/// dispatcher in capture order (one partition per camera, one analyzer post thread), so
/// (camera, `last_seen`) names the alert whose arrival caused the push.
#[derive(Default)]
pub struct AlertLog {
    seen: Mutex<HashMap<u128, Seen>>,
    pushes: Mutex<HashMap<(String, i64), DateTime<Utc>>>,
    pub lagged: AtomicU64,
}

impl AlertLog {
    fn in_kafka(&self, a: &AlertV1, at: DateTime<Utc>, bytes: usize) {
        let mut m = self.seen.lock().expect("alert log");
        let e = m.entry(a.alert_id.as_u128()).or_default();
        e.camera = a.camera_id.to_string();
        e.captured = Some(a.captured_at);
        e.detected = Some(a.detected_at);
        e.published = Some(a.published_at);
        e.in_kafka.get_or_insert(at);
        e.detection = !a.event_type.is_camera_fault();
        e.bytes = bytes;
    }

    fn pushed(&self, camera: &str, last_seen: DateTime<Utc>, at: DateTime<Utc>) {
        self.pushes
            .lock()
            .expect("alert log")
            .entry((camera.to_owned(), last_seen.timestamp_micros()))
            .or_insert(at);
    }

    /// Detection alerts captured in `[from, to)`, with their push time when there was one.
    pub fn captured_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Seen> {
        let mut v: Vec<Seen> = self
            .seen
            .lock()
            .expect("alert log")
            .values()
            .filter(|s| s.detection && s.captured.is_some_and(|c| c >= from && c < to))
            .cloned()
            .collect();
        let pushes = self.pushes.lock().expect("alert log");
        for s in &mut v {
            let key = (
                s.camera.clone(),
                s.captured.map_or(0, |c| c.timestamp_micros()),
            );
            s.pushed = pushes.get(&key).copied();
        }
        v
    }

    /// Mean size of the alerts seen in Kafka, bytes.
    pub fn mean_bytes(&self) -> Option<usize> {
        let m = self.seen.lock().expect("alert log");
        let sizes: Vec<usize> = m.values().map(|s| s.bytes).filter(|b| *b > 0).collect();
        (!sizes.is_empty()).then(|| sizes.iter().sum::<usize>() / sizes.len())
    }
}

/// Reads the alerts topic on its own thread until `stop`.
pub fn spawn_kafka_observer(
    brokers: &str,
    topic: &str,
    partitions: u32,
    log: Arc<AlertLog>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    // A short fetch wait: the observer should see an alert as soon as the broker has it (the
    // dispatcher keeps its own, production, setting).
    let c: BaseConsumer = assigned_consumer(brokers, topic, partitions, Some(10))?;
    Ok(std::thread::Builder::new()
        .name("xl-e2e-kafka".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match c.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        let at = Utc::now();
                        let Some(p) = m.payload() else { continue };
                        match AlertV1::from_json(p) {
                            Ok(a) => log.in_kafka(&a, at, p.len()),
                            Err(e) => tracing::warn!(error = %e, "bench observer: not an alert"),
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "bench observer: consumer"),
                    None => {}
                }
            }
        })?)
}

/// Records every incident change the hub pushes for a new alert (created or updated).
pub fn spawn_push_observer(
    rt: &tokio::runtime::Runtime,
    hub: &Hub,
    log: Arc<AlertLog>,
    stop: Shutdown,
) {
    let mut rx = hub.subscribe();
    rt.spawn(async move {
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(p) => {
                        let at = Utc::now();
                        if let Push::Incident(c, _) = &*p
                            && matches!(c.kind, ChangeKind::Created | ChangeKind::Updated)
                        {
                            log.pushed(c.incident.camera_id.as_str(), c.incident.last_seen, at);
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        log.lagged.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(RecvError::Closed) => break,
                },
                _ = stop.wait() => break,
            }
        }
    });
}

// ---- the roles --------------------------------------------------------------------------------

/// The dispatcher for the whole bench, and the topics it reads.
pub struct Dispatcher {
    pub shutdown: Shutdown,
    pub tasks: Tasks,
    pub hub: Hub,
}

pub fn start_dispatcher(
    rt: &tokio::runtime::Runtime,
    settings: &Settings,
) -> anyhow::Result<Dispatcher> {
    let k = &settings.node.kafka;
    rt.block_on(async {
        create_topic(&k.brokers, &k.alerts_topic, k.partitions).await?;
        create_topic(&k.brokers, &k.dlq_topic, 1).await
    })?;
    let _guard = rt.enter();
    let shutdown = Shutdown::new();
    let mut tasks = Tasks::new();
    let hub = xueliang_dispatcher::role::start(
        settings,
        Some("127.0.0.1:0".parse()?),
        None,
        &shutdown,
        &mut tasks,
    )?;
    Ok(Dispatcher {
        shutdown,
        tasks,
        hub,
    })
}

/// One step's ingest + analyzer + publisher.
pub struct Edge {
    shutdown: Shutdown,
    tasks: Tasks,
}

impl Edge {
    pub fn start(rt: &tokio::runtime::Runtime, settings: &Settings) -> anyhow::Result<Edge> {
        let _guard = rt.enter();
        let shutdown = Shutdown::new();
        let mut tasks = Tasks::new();
        xueliang_analyzer::edge::start(settings, None, &shutdown, &mut tasks)?;
        Ok(Edge { shutdown, tasks })
    }

    /// Stops ingest and drains the analyzer and the publisher (every alert reaches Kafka or
    /// the spool). Returns whether it finished within `limit`.
    pub fn stop(mut self, rt: &tokio::runtime::Runtime, limit: Duration) -> bool {
        self.shutdown.trigger();
        let deadline = Instant::now() + limit;
        rt.block_on(async {
            while Instant::now() < deadline {
                match tokio::time::timeout_at(deadline.into(), self.tasks.next()).await {
                    Ok(Some(_)) => {}
                    Ok(None) => return true,
                    Err(_) => break,
                }
            }
            self.tasks.abort_all();
            false
        })
    }
}
