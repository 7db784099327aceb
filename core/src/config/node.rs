use super::error::{ConfigErrors, Errors, parse_toml};
use super::routes::{RouteRaw, RouteTree, validate_route_tree};
use crate::DeskId;
use crate::contract::{DeskKind, DeskV1};
use serde::Deserialize;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `xueliang.toml` as written. Every table denies unknown keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeRaw {
    #[serde(default)]
    node: NodeSection,
    #[serde(default)]
    log: LogRaw,
    #[serde(default)]
    http: HttpRaw,
    #[serde(default)]
    kafka: KafkaRaw,
    inventory: InventoryPaths,
    #[serde(default)]
    desk: Vec<DeskV1>,
    #[serde(default)]
    ingest: IngestRaw,
    #[serde(default)]
    analyzer: AnalyzerRaw,
    #[serde(default)]
    dispatcher: DispatcherRaw,
    #[serde(default)]
    shutdown: ShutdownRaw,
    #[serde(default)]
    cluster: ClusterRaw,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct NodeSection {
    /// Name of this node in logs and metrics.
    name: String,
    /// Directory for the node's state (spool, SQLite store); relative to the config file.
    data_dir: String,
    /// Offset of local time from UTC used by rule schedules, e.g. "+08:00".
    utc_offset: String,
}

impl Default for NodeSection {
    fn default() -> Self {
        NodeSection {
            name: "xueliang-1".into(),
            data_dir: "data".into(),
            utc_offset: "+08:00".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LogRaw {
    /// "pretty" or "json".
    format: String,
    /// A tracing filter, e.g. "info" or "xueliang_ingest=debug,info"; RUST_LOG overrides it.
    level: String,
}

impl Default for LogRaw {
    fn default() -> Self {
        LogRaw {
            format: "pretty".into(),
            level: "info".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct HttpRaw {
    /// Address for `/metrics` and `/healthz` of this process.
    listen: String,
}

impl Default for HttpRaw {
    fn default() -> Self {
        HttpRaw {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct KafkaRaw {
    /// Comma-separated bootstrap servers.
    brokers: String,
    alerts_topic: String,
    dlq_topic: String,
    /// Partitions created for the alerts topic if it does not exist.
    partitions: u32,
    /// Compacted topic holding the camera inventory of a cluster (key = camera id).
    inventory_topic: String,
    /// Compacted single-partition topic of node heartbeats (key = node name).
    nodes_topic: String,
    /// Compacted topic of camera status (key = camera id): each edge writes the state of every
    /// camera it runs every `cluster.status_interval_ms`; the dispatchers read it.
    status_topic: String,
}

impl Default for KafkaRaw {
    fn default() -> Self {
        KafkaRaw {
            brokers: "127.0.0.1:9092".into(),
            alerts_topic: "xueliang.alerts".into(),
            dlq_topic: "xueliang.alerts.dlq".into(),
            partitions: 6,
            inventory_topic: "xueliang.cameras".into(),
            nodes_topic: "xueliang.nodes".into(),
            status_topic: "xueliang.camera-status".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ClusterRaw {
    /// Where this node's cameras come from: "file" (every enabled camera of the inventory
    /// file; SIGHUP reloads it) or "kafka" (the inventory topic, shared among the live edges).
    cameras: String,
    /// How many cameras this node can analyse: its weight when cameras are shared, and the
    /// count above which it raises an operator alert.
    capacity: u32,
    /// How often the node writes its heartbeat to the nodes topic.
    heartbeat_ms: u64,
    /// A node whose heartbeat is missing for this long (measured in the other nodes'
    /// heartbeats on the topic, not by clocks) is gone and its cameras move.
    node_timeout_s: u64,
    /// How often an edge writes the status of each of its cameras to `kafka.status_topic`.
    status_interval_ms: u64,
    /// A camera with no status for this long (no edge runs it) opens a `camera_unwatched`
    /// incident on the dispatcher; 0 turns the check off. Must outlast a normal takeover.
    unwatched_after_s: u64,
}

impl Default for ClusterRaw {
    fn default() -> Self {
        ClusterRaw {
            cameras: "file".into(),
            capacity: 64,
            heartbeat_ms: 1000,
            node_timeout_s: 5,
            status_interval_ms: 2000,
            unwatched_after_s: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryPaths {
    /// Camera inventory (TOML), relative to this file.
    cameras: String,
    /// Jurisdiction polygons (GeoJSON), relative to this file.
    jurisdictions: String,
    /// Accept a jurisdictions file with no polygon (alerts then route by camera desk
    /// overrides and the route tree only, and fall back to the centre).
    #[serde(default)]
    allow_empty_jurisdictions: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct IngestRaw {
    /// Decoder worker threads; 0 = one per CPU core.
    decoder_workers: usize,
    /// Frames waiting for the analyzer; when full the newest frame is dropped and counted.
    frame_queue: usize,
    /// Reconnect backoff: first delay and cap.
    backoff_initial_ms: u64,
    backoff_max_s: u64,
}

impl Default for IngestRaw {
    fn default() -> Self {
        IngestRaw {
            decoder_workers: 0,
            frame_queue: 64,
            backoff_initial_ms: 1000,
            backoff_max_s: 60,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AnalyzerRaw {
    /// Model name as in `models/` (see `xueliang models list`).
    model: String,
    /// "cpu", "cuda" or "tensorrt".
    execution_provider: String,
    /// Inference worker threads, each with its own session; 0 = one per CPU core.
    workers: usize,
    /// Intra-op threads per session.
    intra_threads: usize,
    /// Dynamic batching across cameras: at most this many frames...
    batch_max: usize,
    /// ...or whatever arrived within this many milliseconds.
    batch_timeout_ms: u64,
    /// Detection score threshold, in (0, 1). Unset: the model manifest's (what the model
    /// was calibrated for); set it only to trade recall for fewer false alarms or back.
    score_threshold: Option<f32>,
    /// IoU above which non-maximum suppression merges boxes, in (0, 1). Unset: the model
    /// manifest's.
    nms_iou: Option<f32>,
    /// Largest size of the on-disk alert spool used while Kafka is unreachable.
    spool_max_mb: u64,
}

impl Default for AnalyzerRaw {
    fn default() -> Self {
        AnalyzerRaw {
            model: "nanodet-m-416".into(),
            execution_provider: "cpu".into(),
            workers: 0,
            intra_threads: 1,
            batch_max: 4,
            batch_timeout_ms: 20,
            score_threshold: None,
            nms_iou: None,
            spool_max_mb: 512,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DispatcherRaw {
    /// Address of the desk web UI and `/api/v1`.
    listen: String,
    /// `sqlite://PATH` (relative to data_dir) or `postgres://…`.
    database: String,
    /// For PostgreSQL: the environment variable holding the database password (from a
    /// Secret), so that the URL in this file carries none.
    database_password_env: Option<String>,
    /// librdkafka's `group.id`. No group is joined: partitions are divided among the live
    /// dispatchers by xueliang, and offsets are stored in the database with the alerts.
    group_id: String,
    /// The name this dispatcher's Kafka client shows the broker; defaults to the node name.
    instance_id: Option<String>,
    /// Alerts of one camera and event type within this window join one incident.
    grouping_window_s: u64,
    /// Operator alert when a dispatcher that should read partitions has held none this long.
    no_partitions_alert_s: u64,
    /// Operator alert when a held alert partition has records past the stored position and
    /// the position has not moved for this long (a record the broker will not serve, …).
    stall_alert_s: u64,
    /// Seconds a new incident may wait unacknowledged before it escalates to the centre, per
    /// priority, at the normal duty level (特殊 halves them, 战时 quarters them).
    ack_sla_s: AckSlaRaw,
    /// How long a desk login lasts.
    session_ttl_s: u64,
    /// The longest silence a station desk may set (its own desk or cameras); the centre may
    /// set up to `max_silence_s`. Silences never hold back a P1 incident.
    max_station_silence_s: u64,
    max_silence_s: u64,
    /// The consumer's `fetch.wait.max.ms`: the most a fetch waits for data. Kafka answers as
    /// soon as data is there, so this only sets idle polling; brokers that hold every fetch
    /// for part of it (tansu 0.6.0) add it to every alert's way to the desk.
    fetch_wait_ms: u64,
    /// The route tree (`[dispatcher.route]`); see deploy/ROUTING.md.
    route: RouteRaw,
}

impl Default for DispatcherRaw {
    fn default() -> Self {
        DispatcherRaw {
            listen: "127.0.0.1:8080".into(),
            database: "sqlite://dispatcher.db".into(),
            database_password_env: None,
            group_id: "dispatcher".into(),
            instance_id: None,
            grouping_window_s: 300,
            no_partitions_alert_s: 60,
            stall_alert_s: 60,
            ack_sla_s: AckSlaRaw::default(),
            session_ttl_s: 12 * 3600,
            max_station_silence_s: 4 * 3600,
            max_silence_s: 7 * 24 * 3600,
            fetch_wait_ms: 20,
            route: RouteRaw::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AckSlaRaw {
    p1: u64,
    p2: u64,
    p3: u64,
    p4: u64,
}

impl Default for AckSlaRaw {
    fn default() -> Self {
        AckSlaRaw {
            p1: 60,
            p2: 180,
            p3: 600,
            p4: 1800,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ShutdownRaw {
    /// How long stages may drain after the first SIGINT/SIGTERM before the process exits.
    drain_timeout_s: u64,
}

impl Default for ShutdownRaw {
    fn default() -> Self {
        ShutdownRaw {
            drain_timeout_s: 10,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Inference execution provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    Cpu,
    Cuda,
    TensorRt,
}

#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub brokers: String,
    pub alerts_topic: String,
    pub dlq_topic: String,
    pub partitions: u32,
    pub inventory_topic: String,
    pub nodes_topic: String,
    pub status_topic: String,
}

impl KafkaConfig {
    /// `brokers` and an alerts topic of `partitions`, every other topic named after it
    /// (`{alerts_topic}.dlq`, …): for tools and tests that run without a config file.
    pub fn for_topic(brokers: &str, alerts_topic: &str, partitions: u32) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.to_string(),
            alerts_topic: alerts_topic.to_string(),
            dlq_topic: format!("{alerts_topic}.dlq"),
            partitions,
            inventory_topic: format!("{alerts_topic}.cameras"),
            nodes_topic: format!("{alerts_topic}.nodes"),
            status_topic: format!("{alerts_topic}.status"),
        }
    }
}

/// Where an edge's cameras come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraSource {
    /// Every enabled camera of the inventory file (the single-node default).
    File,
    /// The inventory topic, shared among the live edges by weighted rendezvous hashing.
    Kafka,
}

/// Whether a `postgres://user:password@…` URL carries a password.
fn url_has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
}

impl DispatcherConfig {
    /// Follows a node name given on the command line (`--node-name`), unless the file set
    /// `instance_id` itself.
    pub fn rename_node(&mut self, node_name: &str) {
        if self.instance_id_override.is_none() {
            self.instance_id = format!("{node_name}-dispatcher");
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub cameras: CameraSource,
    pub capacity: NonZeroUsize,
    pub heartbeat: Duration,
    pub node_timeout: Duration,
    pub status_interval: Duration,
    /// `None`: the unwatched-camera check is off.
    pub unwatched_after: Option<Duration>,
}

impl ClusterConfig {
    /// The node timeout counted in heartbeats: how many heartbeats another node writes
    /// while this one is silent before this one is gone.
    pub fn timeout_beats(&self) -> u32 {
        (self.node_timeout.as_millis() / self.heartbeat.as_millis().max(1)).max(2) as u32
    }
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Decoder threads; 0 = one per CPU core.
    pub decoder_workers: usize,
    pub frame_queue: NonZeroUsize,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

#[derive(Debug, Clone)]
pub struct AnalyzerConfig {
    pub model: String,
    pub execution_provider: ExecutionProvider,
    /// Inference workers; 0 = one per CPU core.
    pub workers: usize,
    pub intra_threads: NonZeroUsize,
    /// At most [`MAX_BATCH`].
    pub batch_max: NonZeroUsize,
    pub batch_timeout: Duration,
    /// `None`: the model manifest's threshold (one source of truth per model).
    pub score_threshold: Option<f32>,
    /// `None`: the model manifest's.
    pub nms_iou: Option<f32>,
    pub spool_max_bytes: u64,
}

/// Largest `analyzer.batch_max`.
pub const MAX_BATCH: usize = 64;

/// The `[analyzer]` defaults of `xueliang.toml`, for tools that run without a config file.
impl Default for AnalyzerConfig {
    fn default() -> Self {
        let mut e = Errors::new(Path::new("defaults"));
        AnalyzerRaw::default().validate(&mut e)
    }
}

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub listen: SocketAddr,
    pub database: String,
    /// The environment variable with the PostgreSQL password (`None`: the URL's, if any).
    pub database_password_env: Option<String>,
    pub group_id: String,
    /// The dispatcher's Kafka client id; `None`: `{node.name}-dispatcher`.
    instance_id_override: Option<String>,
    pub instance_id: String,
    pub grouping_window: Duration,
    pub no_partitions_alert: Duration,
    pub stall_alert: Duration,
    /// Acknowledgement SLA per priority (P1..P4) at the normal duty level.
    pub ack_sla: [Duration; 4],
    pub session_ttl: Duration,
    /// The longest silence a station desk may set, and anyone (the centre).
    pub max_station_silence: Duration,
    pub max_silence: Duration,
    pub fetch_wait: Duration,
    pub route: RouteTree,
}

/// `xueliang.toml`, validated.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub file: PathBuf,
    pub name: String,
    pub data_dir: PathBuf,
    /// Local time offset in seconds east of UTC.
    pub utc_offset_s: i32,
    pub log_format: LogFormat,
    pub log_level: String,
    pub http_listen: SocketAddr,
    pub kafka: KafkaConfig,
    pub cameras_file: PathBuf,
    pub jurisdictions_file: PathBuf,
    /// `inventory.allow_empty_jurisdictions`: an empty jurisdictions file is intended.
    pub allow_empty_jurisdictions: bool,
    pub desks: Vec<DeskV1>,
    pub ingest: IngestConfig,
    pub analyzer: AnalyzerConfig,
    pub dispatcher: DispatcherConfig,
    pub drain_timeout: Duration,
    pub cluster: ClusterConfig,
}

impl NodeConfig {
    pub fn desk(&self, id: &DeskId) -> Option<&DeskV1> {
        self.desks.iter().find(|d| &d.id == id)
    }

    /// The district command centre: the fallback route and the escalation target.
    pub fn centre(&self) -> &DeskV1 {
        self.desks
            .iter()
            .find(|d| d.kind == DeskKind::Centre)
            .expect("validated: exactly one centre desk")
    }

    /// Parses `xueliang.toml`. Relative paths in it are resolved against `file`'s directory.
    /// Each section validates itself; every problem of every section is reported at once.
    pub fn parse(text: &str, file: &Path) -> Result<NodeConfig, ConfigErrors> {
        let raw: NodeRaw = parse_toml(text, file)?;
        let base = file.parent().unwrap_or(Path::new("."));
        let mut e = Errors::new(file);
        let log_format = raw.log.validate(&mut e);
        let http_listen = parse_addr(&mut e, "http.listen", &raw.http.listen);
        let utc_offset_s = raw.node.validate(&mut e);
        let kafka = raw.kafka.validate(&mut e);
        validate_desks(&raw.desk, &mut e);
        let ingest = raw.ingest.validate(&mut e);
        let analyzer = raw.analyzer.validate(&mut e);
        let dispatcher = raw.dispatcher.validate(&raw.node.name, &raw.desk, &mut e);
        if http_listen == dispatcher.listen && http_listen.port() != 0 {
            e.push(
                "dispatcher.listen",
                format!("same address as http.listen ({http_listen})"),
                "give the desk UI and the metrics endpoint different ports",
            );
        }
        let drain_timeout = raw.shutdown.validate(&mut e);
        let cluster = raw.cluster.validate(&mut e);
        let cfg = NodeConfig {
            file: file.to_path_buf(),
            name: raw.node.name,
            data_dir: base.join(&raw.node.data_dir),
            utc_offset_s,
            log_format,
            log_level: raw.log.level,
            http_listen,
            kafka,
            cameras_file: base.join(&raw.inventory.cameras),
            jurisdictions_file: base.join(&raw.inventory.jurisdictions),
            allow_empty_jurisdictions: raw.inventory.allow_empty_jurisdictions,
            desks: raw.desk,
            ingest,
            analyzer,
            dispatcher,
            drain_timeout,
            cluster,
        };
        e.finish(cfg)
    }
}

impl NodeSection {
    /// The UTC offset in seconds.
    fn validate(&self, e: &mut Errors<'_>) -> i32 {
        if self.name.trim().is_empty() {
            e.push(
                "node.name",
                "is empty",
                "give this node a name, e.g. \"edge-1\"",
            );
        }
        parse_utc_offset(&self.utc_offset).unwrap_or_else(|| {
            e.push(
                "node.utc_offset",
                format!("{:?} is not a UTC offset", self.utc_offset),
                "write it as \"+08:00\" (China Standard Time) or \"-05:30\"",
            );
            0
        })
    }
}

impl LogRaw {
    fn validate(&self, e: &mut Errors<'_>) -> LogFormat {
        match self.format.as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                e.push(
                    "log.format",
                    format!("unknown format {other:?}"),
                    "use \"pretty\" or \"json\"",
                );
                LogFormat::Pretty
            }
        }
    }
}

impl KafkaRaw {
    fn validate(self, e: &mut Errors<'_>) -> KafkaConfig {
        if self.brokers.trim().is_empty() {
            e.push(
                "kafka.brokers",
                "is empty",
                "list bootstrap servers, e.g. \"127.0.0.1:9092\"",
            );
        }
        for (key, topic) in [
            ("kafka.alerts_topic", &self.alerts_topic),
            ("kafka.dlq_topic", &self.dlq_topic),
            ("kafka.inventory_topic", &self.inventory_topic),
            ("kafka.nodes_topic", &self.nodes_topic),
            ("kafka.status_topic", &self.status_topic),
        ] {
            if !valid_topic(topic) {
                e.push(
                    key,
                    format!("{topic:?} is not a valid Kafka topic name"),
                    "use 1-249 characters from [A-Za-z0-9._-]",
                );
            }
        }
        if self.alerts_topic == self.dlq_topic {
            e.push(
                "kafka.dlq_topic",
                "is the same topic as kafka.alerts_topic",
                "dead letters need their own topic, e.g. \"xueliang.alerts.dlq\"",
            );
        }
        let topics = [
            &self.alerts_topic,
            &self.dlq_topic,
            &self.inventory_topic,
            &self.nodes_topic,
            &self.status_topic,
        ];
        for (key, topic) in [
            ("kafka.inventory_topic", &self.inventory_topic),
            ("kafka.nodes_topic", &self.nodes_topic),
            ("kafka.status_topic", &self.status_topic),
        ] {
            if topics.iter().filter(|t| **t == topic).count() > 1 {
                e.push(
                    key,
                    format!("{topic:?} is also used for another kind of record"),
                    "every kafka.*_topic needs a topic of its own",
                );
            }
        }
        if self.partitions == 0 {
            e.push("kafka.partitions", "must be at least 1", "");
        }
        KafkaConfig {
            brokers: self.brokers,
            alerts_topic: self.alerts_topic,
            dlq_topic: self.dlq_topic,
            partitions: self.partitions,
            inventory_topic: self.inventory_topic,
            nodes_topic: self.nodes_topic,
            status_topic: self.status_topic,
        }
    }
}

impl ClusterRaw {
    fn validate(self, e: &mut Errors<'_>) -> ClusterConfig {
        let cameras = match self.cameras.as_str() {
            "file" => CameraSource::File,
            "kafka" => CameraSource::Kafka,
            other => {
                e.push(
                    "cluster.cameras",
                    format!("unknown camera source {other:?}"),
                    "use \"file\" (one node, the inventory file) or \"kafka\" (a cluster sharing \
                     the inventory topic)",
                );
                CameraSource::File
            }
        };
        let capacity = at_least_one(e, "cluster.capacity", self.capacity as usize);
        if !(100..=10_000).contains(&self.heartbeat_ms) {
            e.push(
                "cluster.heartbeat_ms",
                format!("{} is outside 100..=10000", self.heartbeat_ms),
                "about 1000 suits most clusters",
            );
        }
        if self.node_timeout_s * 1000 < 3 * self.heartbeat_ms.max(1) {
            e.push(
                "cluster.node_timeout_s",
                format!(
                    "{} s is less than three heartbeats ({} ms each)",
                    self.node_timeout_s, self.heartbeat_ms
                ),
                "a node must be able to miss two heartbeats without losing its cameras, \
                 e.g. node_timeout_s = 5 with heartbeat_ms = 1000",
            );
        }
        if !(200..=60_000).contains(&self.status_interval_ms) {
            e.push(
                "cluster.status_interval_ms",
                format!("{} is outside 200..=60000", self.status_interval_ms),
                "about 2000 suits most clusters (each edge writes one record per camera per interval)",
            );
        }
        // A takeover leaves a camera without status for up to the node timeout, plus the new
        // owner's first status interval and an RTSP connect: that must not read as unwatched.
        let takeover_s = self.node_timeout_s + 2 * self.status_interval_ms.div_ceil(1000) + 5;
        if self.unwatched_after_s != 0 && self.unwatched_after_s < takeover_s {
            e.push(
                "cluster.unwatched_after_s",
                format!(
                    "{} s is shorter than a normal takeover (node_timeout_s {} + two status \
                     intervals + 5 s to connect = {takeover_s} s)",
                    self.unwatched_after_s, self.node_timeout_s
                ),
                &format!(
                    "set it to at least {takeover_s} (30 suits the defaults), or 0 to turn the \
                     unwatched-camera check off"
                ),
            );
        }
        ClusterConfig {
            cameras,
            capacity,
            heartbeat: Duration::from_millis(self.heartbeat_ms.clamp(100, 10_000)),
            node_timeout: Duration::from_secs(self.node_timeout_s.max(1)),
            status_interval: Duration::from_millis(self.status_interval_ms.clamp(200, 60_000)),
            unwatched_after: (self.unwatched_after_s > 0)
                .then(|| Duration::from_secs(self.unwatched_after_s)),
        }
    }
}

fn validate_desks(desks: &[DeskV1], e: &mut Errors<'_>) {
    let mut seen = std::collections::HashSet::new();
    for (i, d) in desks.iter().enumerate() {
        if !seen.insert(d.id.clone()) {
            e.push(
                format!("desk[{i}].id"),
                format!("desk id `{}` is defined twice", d.id),
                "desk ids must be unique",
            );
        }
    }
    let centres = desks.iter().filter(|d| d.kind == DeskKind::Centre).count();
    if centres != 1 {
        e.push(
            "desk",
            format!("{centres} desks have kind = \"centre\"; exactly one is needed"),
            "define the district command centre once: [[desk]] id = \"…\" kind = \"centre\"",
        );
    }
}

/// A positive count, or an error naming `key` (and 1 in its place, so validation goes on).
fn at_least_one(e: &mut Errors<'_>, key: &str, v: usize) -> NonZeroUsize {
    NonZeroUsize::new(v).unwrap_or_else(|| {
        e.push(key, "must be at least 1", "");
        NonZeroUsize::MIN
    })
}

impl IngestRaw {
    fn validate(self, e: &mut Errors<'_>) -> IngestConfig {
        let frame_queue = at_least_one(e, "ingest.frame_queue", self.frame_queue);
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_s * 1000 {
            e.push(
                "ingest.backoff_initial_ms",
                "must be positive and not above backoff_max_s",
                "e.g. backoff_initial_ms = 1000, backoff_max_s = 60",
            );
        }
        IngestConfig {
            decoder_workers: self.decoder_workers,
            frame_queue,
            backoff_initial: Duration::from_millis(self.backoff_initial_ms),
            backoff_max: Duration::from_secs(self.backoff_max_s),
        }
    }
}

impl AnalyzerRaw {
    fn validate(self, e: &mut Errors<'_>) -> AnalyzerConfig {
        let execution_provider = match self.execution_provider.as_str() {
            "cpu" => ExecutionProvider::Cpu,
            "cuda" => ExecutionProvider::Cuda,
            "tensorrt" => ExecutionProvider::TensorRt,
            other => {
                e.push(
                    "analyzer.execution_provider",
                    format!("unknown provider {other:?}"),
                    "use \"cpu\", \"cuda\" or \"tensorrt\"",
                );
                ExecutionProvider::Cpu
            }
        };
        let batch_max = at_least_one(e, "analyzer.batch_max", self.batch_max);
        if batch_max.get() > MAX_BATCH {
            e.push(
                "analyzer.batch_max",
                format!("{batch_max} is out of range"),
                "use 1..=64",
            );
        }
        let intra_threads = at_least_one(e, "analyzer.intra_threads", self.intra_threads);
        for (key, v) in [
            ("analyzer.score_threshold", self.score_threshold),
            ("analyzer.nms_iou", self.nms_iou),
        ] {
            if let Some(v) = v.filter(|v| !(*v > 0.0 && *v < 1.0)) {
                e.push(
                    key,
                    format!("{v} is out of range"),
                    "use a value in (0, 1), or leave it out to use the model's",
                );
            }
        }
        AnalyzerConfig {
            model: self.model,
            execution_provider,
            workers: self.workers,
            intra_threads,
            batch_max,
            batch_timeout: Duration::from_millis(self.batch_timeout_ms),
            score_threshold: self.score_threshold,
            nms_iou: self.nms_iou,
            spool_max_bytes: self.spool_max_mb * 1024 * 1024,
        }
    }
}

impl DispatcherRaw {
    fn validate(self, node_name: &str, desks: &[DeskV1], e: &mut Errors<'_>) -> DispatcherConfig {
        let listen = parse_addr(e, "dispatcher.listen", &self.listen);
        if self.grouping_window_s == 0 {
            e.push("dispatcher.grouping_window_s", "must be at least 1", "");
        }
        let sla = &self.ack_sla_s;
        if [sla.p1, sla.p2, sla.p3, sla.p4].contains(&0)
            || !(sla.p1 <= sla.p2 && sla.p2 <= sla.p3 && sla.p3 <= sla.p4)
        {
            e.push(
                "dispatcher.ack_sla_s",
                "must be positive and not shorter for a lower priority",
                "e.g. ack_sla_s = { p1 = 60, p2 = 180, p3 = 600, p4 = 1800 }",
            );
        }
        if !(1..=5000).contains(&self.fetch_wait_ms) {
            e.push(
                "dispatcher.fetch_wait_ms",
                "must be between 1 and 5000",
                "e.g. fetch_wait_ms = 20",
            );
        }
        if self.session_ttl_s < 60 {
            e.push(
                "dispatcher.session_ttl_s",
                "must be at least 60",
                "e.g. session_ttl_s = 43200 (12 h)",
            );
        }
        if self.max_station_silence_s == 0 || self.max_station_silence_s > self.max_silence_s {
            e.push(
                "dispatcher.max_station_silence_s",
                format!(
                    "{} s is not between 1 and max_silence_s ({} s)",
                    self.max_station_silence_s, self.max_silence_s
                ),
                "e.g. max_station_silence_s = 14400 (4 h) and max_silence_s = 604800 (7 days)",
            );
        }
        if !(self.database.starts_with("sqlite://")
            || self.database.starts_with("postgres://")
            || self.database.starts_with("postgresql://"))
        {
            e.push(
                "dispatcher.database",
                "is neither sqlite:// nor postgres://",
                "e.g. \"sqlite://dispatcher.db\" or \"postgres://user@127.0.0.1/xueliang\"",
            );
        }
        if let Some(var) = &self.database_password_env {
            if self.database.starts_with("sqlite://") {
                e.push(
                    "dispatcher.database_password_env",
                    "is set, but the database is SQLite (a file, no password)",
                    "remove database_password_env, or use a postgres:// database",
                );
            } else if url_has_password(&self.database) {
                e.push(
                    "dispatcher.database_password_env",
                    format!("is set ({var}), but dispatcher.database has a password too"),
                    "keep the password out of the URL: postgres://USER@HOST/DB",
                );
            }
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                e.push(
                    "dispatcher.database_password_env",
                    format!("{var:?} is not an environment variable name"),
                    "e.g. database_password_env = \"XUELIANG_DB_PASSWORD\"",
                );
            }
        }
        let route = validate_route_tree(&self.route, desks, e);
        DispatcherConfig {
            listen,
            database: self.database,
            database_password_env: self.database_password_env,
            group_id: self.group_id,
            instance_id: self
                .instance_id
                .clone()
                .unwrap_or_else(|| format!("{node_name}-dispatcher")),
            instance_id_override: self.instance_id,
            grouping_window: Duration::from_secs(self.grouping_window_s),
            no_partitions_alert: Duration::from_secs(self.no_partitions_alert_s),
            stall_alert: Duration::from_secs(self.stall_alert_s.max(1)),
            ack_sla: [sla.p1, sla.p2, sla.p3, sla.p4].map(Duration::from_secs),
            session_ttl: Duration::from_secs(self.session_ttl_s),
            max_station_silence: Duration::from_secs(self.max_station_silence_s),
            max_silence: Duration::from_secs(self.max_silence_s),
            fetch_wait: Duration::from_millis(self.fetch_wait_ms),
            route,
        }
    }
}

impl ShutdownRaw {
    fn validate(&self, e: &mut Errors<'_>) -> Duration {
        if self.drain_timeout_s == 0 {
            e.push(
                "shutdown.drain_timeout_s",
                "must be at least 1",
                "stages need time to drain; 10 is a good default",
            );
        }
        Duration::from_secs(self.drain_timeout_s)
    }
}

fn parse_addr(e: &mut Errors<'_>, key: &str, s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| {
        e.push(
            key,
            format!("{s:?} is not an IP address with a port"),
            "write it as \"127.0.0.1:8080\" (use 0.0.0.0 only behind a firewall)",
        );
        SocketAddr::from(([127, 0, 0, 1], 0))
    })
}

/// "+08:00" → 28800.
pub fn parse_utc_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn valid_topic(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
