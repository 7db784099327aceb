//! The cluster view: one thread reads the nodes topic and the inventory topic from their
//! start (by `assign()`, never `subscribe()`), keeps the live set and the inventory, and
//! publishes what this node owns whenever either changes.
//!
//! Nothing is published before both topics have been read to the end they had at start:
//! a node that claimed cameras from half an inventory would stop and restart them a moment
//! later. A record that fails validation is skipped (counted, logged at ERROR with topic,
//! key and offset, and kept in a gauge until a valid record replaces it); no edge stops for it.

use crate::beat::{BeatV1, NodeRole};
use crate::heartbeat::Heartbeat;
use crate::membership::{MemberState, Membership};
use crate::rendezvous;
use crate::topics::{self, CatchUp, Record};
use anyhow::Context;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, Inventory};
use xueliang_core::shutdown::Shutdown;

pub const LIVE_NODES: &str = "xueliang_cluster_live_nodes";
pub const OWNED_CAMERAS: &str = "xueliang_cluster_owned_cameras";
pub const INVENTORY_CAMERAS: &str = "xueliang_cluster_inventory_cameras";
pub const INVALID_RECORDS: &str = "xueliang_cluster_inventory_invalid";
pub const REJECTED_RECORDS: &str = "xueliang_cluster_inventory_rejected_total";
pub const FENCED: &str = "xueliang_cluster_fenced";
pub const OVER_CAPACITY: &str = "xueliang_cluster_over_capacity";

/// What this node should run, as of the latest record read.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// This node's cameras (enabled ones only), ordered by id.
    pub cameras: Vec<CameraConfig>,
    /// True while this node is half-way to being judged gone and runs nothing.
    pub fenced: bool,
    /// Live members of this node's role.
    pub live: usize,
    /// Cameras this node owns beyond its capacity (0 when within it).
    pub over_capacity: usize,
}

/// The inventory as read from its topic: every valid camera, and the keys whose latest
/// record is not one. What a dispatcher follows; the edges' [`ClusterState`] holds one too.
#[derive(Debug, Clone, Default)]
pub struct InventoryRecords {
    pub cameras: BTreeMap<CameraId, CameraConfig>,
    /// Keys whose latest record is invalid, with the error.
    pub invalid: BTreeMap<String, String>,
}

/// The inventory and the members as read from the topics (for `cameras list`, and the
/// state behind every [`Assignment`]).
#[derive(Debug, Clone)]
pub struct ClusterState {
    pub membership: Membership,
    pub inventory: InventoryRecords,
}

impl InventoryRecords {
    /// Applies one inventory-topic record; `topic` names it in errors.
    pub fn apply(&mut self, topic: &str, r: &Record, env: &dyn Fn(&str) -> Option<String>) {
        let Ok(id) = CameraId::new(r.key.clone()) else {
            self.reject(topic, r, format!("the key {:?} is not a camera id", r.key));
            return;
        };
        let Some(value) = &r.value else {
            self.cameras.remove(&id);
            self.invalid.remove(&r.key);
            return;
        };
        let origin = PathBuf::from(format!(
            "{topic} (partition {}, offset {}, key {})",
            r.partition, r.offset, r.key
        ));
        match Inventory::parse_record(value, &origin, env) {
            Ok(cam) if cam.id == id => {
                self.invalid.remove(&r.key);
                self.cameras.insert(id, cam);
            }
            Ok(cam) => self.reject(
                topic,
                r,
                format!("the record's key is {} but its camera id is {}", id, cam.id),
            ),
            Err(errs) => self.reject(topic, r, errs.to_string()),
        }
    }

    fn reject(&mut self, topic: &str, r: &Record, error: String) {
        metrics::counter!(REJECTED_RECORDS, "topic" => "inventory").increment(1);
        tracing::error!(
            topic,
            partition = r.partition,
            offset = r.offset,
            key = %r.key,
            error = %error.trim(),
            "skipping an invalid camera record; the camera keeps its last valid config (if any) \
             — fix it with `xueliang cameras apply`"
        );
        self.invalid.insert(r.key.clone(), error);
    }
}

impl ClusterState {
    pub fn new(timeout_beats: u32) -> ClusterState {
        ClusterState {
            membership: Membership::new(timeout_beats),
            inventory: InventoryRecords::default(),
        }
    }

    /// Applies one nodes-topic record.
    pub fn node_record(&mut self, r: &Record) {
        match &r.value {
            None => self.membership.left(&r.key),
            Some(v) => match serde_json::from_slice::<BeatV1>(v) {
                Ok(beat) if beat.key() == r.key => self.membership.beat(beat),
                Ok(_) | Err(_) => {
                    metrics::counter!(REJECTED_RECORDS, "topic" => "nodes").increment(1);
                    tracing::warn!(key = %r.key, offset = r.offset, "skipping a malformed heartbeat");
                }
            },
        }
    }

    /// Applies one inventory-topic record; `topic` names it in errors.
    pub fn inventory_record(
        &mut self,
        topic: &str,
        r: &Record,
        env: &dyn Fn(&str) -> Option<String>,
    ) {
        self.inventory.apply(topic, r, env);
    }

    /// The owner of every camera (enabled or not) among the live edges.
    pub fn owners(&self) -> BTreeMap<CameraId, Option<String>> {
        let live = self.membership.candidates(NodeRole::Edge);
        self.inventory
            .cameras
            .keys()
            .map(|id| {
                (
                    id.clone(),
                    rendezvous::owner(id.as_str(), &live).map(str::to_string),
                )
            })
            .collect()
    }

    /// What `node` (an edge of `capacity` cameras) should run.
    pub fn assignment(&self, node: &str, capacity: usize) -> Assignment {
        let key = crate::beat::key(NodeRole::Edge, node);
        let live = self.membership.candidates(NodeRole::Edge);
        let fenced = !self.membership.may_claim(&key);
        let cameras: Vec<CameraConfig> = if fenced {
            Vec::new()
        } else {
            self.inventory
                .cameras
                .values()
                .filter(|c| c.enabled && rendezvous::owner(c.id.as_str(), &live) == Some(node))
                .cloned()
                .collect()
        };
        Assignment {
            over_capacity: cameras.len().saturating_sub(capacity),
            cameras,
            fenced,
            live: live.len(),
        }
    }

    pub fn members(&self) -> Vec<MemberState> {
        self.membership.members()
    }
}

/// What the view thread needs.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    pub brokers: String,
    pub nodes_topic: String,
    /// The inventory topic, for views that place cameras (edges); `None`: members only.
    pub inventory_topic: Option<String>,
    pub timeout_beats: u32,
    pub heartbeat: Duration,
}

impl ViewOptions {
    /// The brokers, topics and timings of `node`'s configuration; `cameras`: also read the
    /// inventory topic (an edge).
    pub fn for_node(node: &xueliang_core::config::NodeConfig, cameras: bool) -> ViewOptions {
        ViewOptions {
            brokers: node.kafka.brokers.clone(),
            nodes_topic: node.kafka.nodes_topic.clone(),
            inventory_topic: cameras.then(|| node.kafka.inventory_topic.clone()),
            timeout_beats: node.cluster.timeout_beats(),
            heartbeat: node.cluster.heartbeat,
        }
    }
}

/// The running view (and this node's heartbeat writer), publishing what `compute` makes of
/// the cluster's state.
pub struct View<T> {
    pub updates: watch::Receiver<Option<T>>,
    thread: std::thread::JoinHandle<()>,
}

impl<T: Clone + PartialEq + Send + Sync + 'static> View<T> {
    /// Starts the view thread, which creates the topics if needed, then starts this node's
    /// heartbeat and reads. Returns at once: while the broker is unreachable the thread
    /// retries and the receiver stays `None` (this node owns nothing yet). The receiver holds
    /// `None` until the topics were read to their end, then every change of what `compute`
    /// returns. On shutdown the heartbeat writes its tombstone.
    pub fn start(
        opts: ViewOptions,
        beat: BeatV1,
        mut compute: impl FnMut(&ClusterState) -> T + Send + 'static,
        shutdown: Shutdown,
    ) -> anyhow::Result<View<T>> {
        let (tx, rx) = watch::channel(None);
        let thread = std::thread::Builder::new()
            .name("cluster-view".into())
            .spawn(move || {
                let connected = topics::retry_connect(
                    "cannot join the cluster yet; this node owns no cameras until it can",
                    &shutdown,
                    |e| e.downcast_ref::<Misconfigured>().is_some(),
                    || connect(&opts),
                );
                let Some((consumer, ends)) = connected else {
                    return;
                };
                let heartbeat = match Heartbeat::start(
                    &opts.brokers,
                    &opts.nodes_topic,
                    beat,
                    opts.heartbeat,
                    shutdown.clone(),
                ) {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the heartbeat");
                        return;
                    }
                };
                view_loop(consumer, &opts, ends, &mut compute, &tx, &shutdown);
                heartbeat.stop();
            })
            .context("spawning the cluster view thread")?;
        Ok(View {
            updates: rx,
            thread,
        })
    }

    /// False once the thread has ended: before shutdown only a misconfiguration does that
    /// (logged at ERROR), and the node then follows nothing.
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Waits for the thread (and the tombstone) after shutdown was triggered.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// A cluster set-up that retrying cannot fix.
#[derive(Debug)]
struct Misconfigured(String);

impl std::fmt::Display for Misconfigured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Misconfigured {}

fn connect(opts: &ViewOptions) -> anyhow::Result<(BaseConsumer, CatchUp)> {
    let t = Duration::from_secs(10);
    topics::ensure_compacted(&opts.brokers, &opts.nodes_topic, 1, t)?;
    if let Some(inventory) = &opts.inventory_topic {
        topics::ensure_compacted(&opts.brokers, inventory, 1, t)?;
    }
    let consumer = topics::reader(&opts.brokers, "view")?;
    let nodes_parts = topics::partitions(&consumer, &opts.nodes_topic, t)?;
    if nodes_parts != [0] {
        return Err(Misconfigured(format!(
            "topic {} has {} partitions; the nodes topic must have exactly one (heartbeats are \
             compared in the log's order) — delete it and let xueliang create it, or create it \
             with 1 partition and cleanup.policy=compact",
            opts.nodes_topic,
            nodes_parts.len()
        ))
        .into());
    }
    let inventory = match &opts.inventory_topic {
        Some(topic) => Some((topic.as_str(), topics::partitions(&consumer, topic, t)?)),
        None => None,
    };
    let mut read: Vec<(&str, &[i32])> = vec![(&opts.nodes_topic, &nodes_parts)];
    if let Some((topic, parts)) = &inventory {
        read.push((topic, parts));
    }
    let catch_up = CatchUp::assign(&consumer, &read)?;
    Ok((consumer, catch_up))
}

fn view_loop<T: PartialEq>(
    consumer: BaseConsumer,
    opts: &ViewOptions,
    mut catch_up: CatchUp,
    compute: &mut dyn FnMut(&ClusterState) -> T,
    tx: &watch::Sender<Option<T>>,
    shutdown: &Shutdown,
) {
    let mut state = ClusterState::new(opts.timeout_beats);
    let env = |k: &str| std::env::var(k).ok();
    let mut dirty = true;
    let mut last_error: Option<std::time::Instant> = None;
    while !shutdown.is_triggered() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let r = Record::from_message(&m);
                if m.topic() == opts.nodes_topic {
                    state.node_record(&r);
                } else {
                    state.inventory_record(m.topic(), &r, &env);
                }
                catch_up.read(m.topic(), r.partition, r.offset);
                dirty = true;
            }
            Some(Err(e)) => {
                // The broker is away: assignment pauses, cameras keep running.
                if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) {
                    tracing::warn!(error = %e, "cluster view cannot read its topics; camera \
                        assignment is paused (owned cameras keep running)");
                    last_error = Some(std::time::Instant::now());
                }
            }
            None => catch_up.idle(&consumer),
        }
        if dirty && catch_up.done() {
            dirty = false;
            let v = compute(&state);
            if tx.borrow().as_ref() != Some(&v) {
                tx.send_replace(Some(v));
            }
        }
    }
}

/// What an edge computes: its cameras, with the cluster gauges and a log line per change.
pub fn edge_assignment(
    node: String,
    capacity: usize,
) -> impl FnMut(&ClusterState) -> Assignment + Send + 'static {
    let mut last: Option<Assignment> = None;
    move |state| {
        let a = state.assignment(&node, capacity);
        metrics::gauge!(LIVE_NODES, "role" => "edge").set(a.live as f64);
        metrics::gauge!(OWNED_CAMERAS).set(a.cameras.len() as f64);
        metrics::gauge!(INVENTORY_CAMERAS).set(state.inventory.cameras.len() as f64);
        metrics::gauge!(INVALID_RECORDS).set(state.inventory.invalid.len() as f64);
        metrics::gauge!(FENCED).set(if a.fenced { 1.0 } else { 0.0 });
        metrics::gauge!(OVER_CAPACITY).set(a.over_capacity as f64);
        if last.as_ref() != Some(&a) {
            log_change(last.as_ref(), &a, &node, capacity);
            last = Some(a.clone());
        }
        a
    }
}

/// A dispatcher's share of the alert partitions: the live dispatchers, and whether this one
/// may claim its part (see [`Membership::may_claim`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub me: String,
    /// Live dispatchers and their weights, ordered by name.
    pub live: Vec<(String, f64)>,
    pub may_claim: bool,
}

impl Share {
    /// The partitions of `topic` (of `partitions`) this dispatcher owns.
    pub fn owned(&self, topic: &str, partitions: &[i32]) -> Vec<i32> {
        if !self.may_claim {
            return Vec::new();
        }
        let live: Vec<rendezvous::Candidate<'_>> = self
            .live
            .iter()
            .map(|(n, w)| rendezvous::Candidate {
                name: n,
                weight: *w,
            })
            .collect();
        partitions
            .iter()
            .copied()
            .filter(|p| rendezvous::owner(&format!("{topic}/{p}"), &live) == Some(self.me.as_str()))
            .collect()
    }
}

/// What a dispatcher computes: the live dispatchers.
pub fn dispatcher_share(node: String) -> impl FnMut(&ClusterState) -> Share + Send + 'static {
    let key = crate::beat::key(NodeRole::Dispatcher, &node);
    move |state| {
        let live: Vec<(String, f64)> = state
            .membership
            .candidates(NodeRole::Dispatcher)
            .iter()
            .map(|c| (c.name.to_string(), c.weight))
            .collect();
        metrics::gauge!(LIVE_NODES, "role" => "dispatcher").set(live.len() as f64);
        let may_claim = state.membership.may_claim(&key);
        metrics::gauge!(FENCED).set(if may_claim { 0.0 } else { 1.0 });
        Share {
            me: node.clone(),
            live,
            may_claim,
        }
    }
}

fn log_change(old: Option<&Assignment>, new: &Assignment, node: &str, capacity: usize) {
    let was_fenced = old.is_some_and(|o| o.fenced);
    if new.fenced && !was_fenced {
        tracing::error!(
            node,
            "fenced: the other nodes' heartbeats are landing and this node's are not; its \
             cameras stop before another node may take them"
        );
    }
    let was_over = old.map_or(0, |o| o.over_capacity);
    if new.over_capacity > 0 && was_over == 0 {
        tracing::error!(
            node,
            owned = new.cameras.len(),
            capacity,
            "over capacity: this node owns more cameras than cluster.capacity; add edges or \
             raise the capacity where the hardware allows (frames will be dropped)"
        );
    }
    tracing::info!(
        node,
        owned = new.cameras.len(),
        live_edges = new.live,
        fenced = new.fenced,
        "camera assignment changed"
    );
}
