//! The cluster as processes on this machine, for `tests/cluster.rs` and `xueliang-bench
//! cluster` alike (one copy): edges and dispatchers (`xueliang run --role edge|dispatcher`)
//! started from the shipped single-node config pointed at a test broker, their `/metrics`
//! read from outside as an orchestrator would, `kill -9` and clean stops, who streams which
//! camera ([`placement`], [`settled`]), `xueliang cameras apply`, a desk's login and event
//! stream, and bursts of test alerts on the alerts topic.
//!
//! Design decisions:
//! - **The binary is a parameter** ([`Xueliang`]): a test passes
//!   `env!("CARGO_BIN_EXE_xueliang")`, the bench the `xueliang` next to its own executable
//!   ([`Xueliang::beside_current_exe`]); testkit cannot name the binary itself.
//! - **One config per node**, derived from `deploy/single-node/xueliang.toml` by text
//!   replacement (name, data dir, broker, ports, camera source, the jurisdictions file by
//!   absolute path) plus the caller's own edits ([`Xueliang::edit`]); an edit that matches
//!   nothing in the shipped file fails, so a changed default cannot silently untune a test.
//! - Panicking helpers under the tests' names, and `try_` forms returning the message for the
//!   bench, where failing is a plausible outcome (a timeout, a refused inventory).
//! - Every process is a [`Killed`] (stopped by pid when dropped) and talks to 127.0.0.1 only.

use crate::broker::{Broker, free_port};
use crate::http::{get as http_get, get_as};
use crate::process::Killed;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `xueliang` binary these helpers run, and the edits every node config gets on top of
/// the standard ones.
#[derive(Clone, Debug)]
pub struct Xueliang {
    bin: PathBuf,
    edits: Vec<(String, String)>,
}

impl Xueliang {
    /// The binary at `bin` (a test passes `env!("CARGO_BIN_EXE_xueliang")`).
    pub fn new(bin: impl Into<PathBuf>) -> Xueliang {
        Xueliang {
            bin: bin.into(),
            edits: Vec::new(),
        }
    }

    /// The `xueliang` binary in the directory of the running executable (the bench's
    /// `target/release/`), or what to do when it is not there.
    pub fn beside_current_exe() -> Result<Xueliang, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot tell where this executable is: {e}"))?;
        let dir = exe
            .parent()
            .ok_or_else(|| format!("{} has no parent directory", exe.display()))?;
        let bin = dir.join("xueliang");
        if !bin.is_file() {
            return Err(format!(
                "the xueliang binary is not at {} (next to {}): build it with \
                 `cargo build --release -p xueliang` (the same profile as this executable)",
                bin.display(),
                exe.display()
            ));
        }
        Ok(Xueliang::new(bin))
    }

    /// Replaces `from` with `to` in every node config written after this (see the module doc).
    pub fn edit(mut self, from: impl Into<String>, to: impl Into<String>) -> Xueliang {
        self.edits.push((from.into(), to.into()));
        self
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A command running the binary.
    pub fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// `xueliang camsim` serving `n` cameras of `clip` (a preset such as `360p` or `vtest`)
    /// on a free port; returns it and its `host:port`.
    pub fn camsim(&self, n: usize, clip: &str) -> (Killed, String) {
        let mut cmd = self.command();
        cmd.args(["camsim", "--port", "0", "--clip", clip, "--cameras"])
            .arg(n.to_string());
        crate::process::camsim(cmd)
    }

    /// The shipped single-node config, pointed at `broker`, with its own ports and data dir,
    /// written to `dir/{name}.toml`; panics with the reason.
    pub fn node_config(
        &self,
        dir: &Path,
        name: &str,
        broker: &Broker,
        http_port: u16,
        source: &str,
    ) -> PathBuf {
        self.try_node_config(dir, name, broker, http_port, source)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`node_config`](Self::node_config), returning what went wrong.
    pub fn try_node_config(
        &self,
        dir: &Path,
        name: &str,
        broker: &Broker,
        http_port: u16,
        source: &str,
    ) -> Result<PathBuf, String> {
        let text = self.config_text(name, &broker.bootstrap(), http_port, source)?;
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// The text of a node's config (see [`node_config`](Self::node_config)).
    fn config_text(
        &self,
        name: &str,
        brokers: &str,
        http_port: u16,
        source: &str,
    ) -> Result<String, String> {
        let src = crate::deploy::single_node_dir();
        let template = src.join("xueliang.toml");
        let mut text = std::fs::read_to_string(&template)
            .map_err(|e| format!("{}: {e}", template.display()))?
            .replace("name = \"futian-edge-1\"", &format!("name = \"{name}\""))
            .replace(
                "data_dir = \"../../.xueliang-data\"",
                &format!("data_dir = \"data-{name}\""),
            )
            .replace("127.0.0.1:9092", brokers)
            .replace("127.0.0.1:9464", &format!("127.0.0.1:{http_port}"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{}", free_port()))
            .replace("cameras = \"file\"", &format!("cameras = \"{source}\""))
            .replace(
                "jurisdictions = \"jurisdictions.geojson\"",
                &format!(
                    "jurisdictions = \"{}\"",
                    src.join("jurisdictions.geojson").display()
                ),
            );
        for (from, to) in &self.edits {
            if !text.contains(from.as_str()) {
                return Err(format!(
                    "the edit {from:?} → {to:?} matches nothing in {}",
                    template.display()
                ));
            }
            text = text.replace(from.as_str(), to);
        }
        Ok(text)
    }

    /// `xueliang run --role edge` named `name`, cameras from `source` (`kafka` or `file`),
    /// logging at info to `dir/{name}.log`.
    pub fn start_edge(&self, dir: &Path, name: &str, broker: &Broker, source: &str) -> Edge {
        let http_port = free_port();
        let config = self.node_config(dir, name, broker, http_port, source);
        let log = dir.join(format!("{name}.log"));
        let process = self
            .command()
            .args(["run", "--role", "edge", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        Edge {
            name: name.into(),
            http_port,
            process: Some(Killed(process)),
            log,
        }
    }

    /// `xueliang run --role dispatcher` named `name` on `database` (a `postgres://` URL, or
    /// `sqlite://…` relative to its data dir), its desk API on a free port.
    pub fn start_dispatcher(
        &self,
        dir: &Path,
        name: &str,
        broker: &Broker,
        database: &str,
    ) -> Dispatcher {
        self.start_dispatcher_with(dir, name, broker, database, "file")
    }

    /// [`Xueliang::start_dispatcher`] with `cluster.cameras = source`: `"kafka"` follows the
    /// inventory topic, as the dispatchers of a cluster do.
    pub fn start_dispatcher_with(
        &self,
        dir: &Path,
        name: &str,
        broker: &Broker,
        database: &str,
        source: &str,
    ) -> Dispatcher {
        let http_port = free_port();
        let api_port = free_port();
        let config = self.node_config(dir, name, broker, http_port, source);
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "database = \"sqlite://dispatcher.db\"",
            &format!("database = \"{database}\""),
        );
        std::fs::write(&config, text).unwrap();
        let log = dir.join(format!("{name}.log"));
        let process = self
            .command()
            .args(["run", "--role", "dispatcher", "--config"])
            .arg(&config)
            .arg("--api-listen")
            .arg(format!("127.0.0.1:{api_port}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        Dispatcher {
            edge: Edge {
                name: name.into(),
                http_port,
                process: Some(Killed(process)),
                log,
            },
            api_port,
        }
    }

    /// `xueliang cameras apply --json`: the diff it printed; panics when it fails.
    pub fn apply(&self, config: &Path, inventory: &Path) -> serde_json::Value {
        self.try_apply(config, inventory)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`apply`](Self::apply), returning what went wrong.
    pub fn try_apply(&self, config: &Path, inventory: &Path) -> Result<serde_json::Value, String> {
        let out = self
            .command()
            .args(["cameras", "apply", "--json", "--config"])
            .arg(config)
            .arg(inventory)
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "cameras apply failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cameras apply --json: {e}"))
    }

    /// A centre user (sees every incident), `duty` / `cluster-test-pw`, stored in the database
    /// `config` names.
    pub fn add_centre_user(&self, config: &Path) {
        let out = self
            .command()
            .args([
                "users",
                "add",
                "--username",
                "duty",
                "--desk",
                "futian-centre",
                "--config",
            ])
            .arg(config)
            .env("XUELIANG_PASSWORD", "cluster-test-pw")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Camera `i`'s id (a GB/T 28181 style 20-digit code).
pub fn camera_id(i: usize) -> String {
    format!("4403040000132{:07}", i + 1)
}

/// An inventory of `n` cameras on camsim at `addr`, sampled lightly (`0.5fps`; the tests are
/// about who runs a camera, not about detection).
pub fn inventory(addr: &str, n: usize, name_suffix: impl Fn(usize) -> String) -> String {
    camera_inventory(addr, n, "0.5fps", "", name_suffix)
}

/// An inventory of `n` cameras on camsim at `addr`, every one with `sampling` and with
/// `camera_extra` (TOML lines, e.g. a `[[camera.rule]]`) after its own keys.
pub fn camera_inventory(
    addr: &str,
    n: usize,
    sampling: &str,
    camera_extra: &str,
    name_suffix: impl Fn(usize) -> String,
) -> String {
    let mut s = format!("[defaults]\nsampling = \"{sampling}\"\n\n");
    for i in 0..n {
        s += &format!(
            "[[camera]]\nid = \"{}\"\nname = \"测试 {i}{}\"\nurl = \"rtsp://{addr}/cam/{i}\"\n\
             location = {{ lat = 22.5410, lon = 114.0520 }}\ntier = \"police\"\n{camera_extra}\n",
            camera_id(i),
            name_suffix(i)
        );
    }
    s
}

/// One `xueliang run` process (an edge, or the process of a [`Dispatcher`]), its metrics
/// port and log.
pub struct Edge {
    pub name: String,
    pub http_port: u16,
    /// `None` once killed or stopped.
    pub process: Option<Killed>,
    pub log: PathBuf,
}

impl Edge {
    /// Its `/metrics` text (empty when it does not answer).
    pub fn metrics(&self) -> String {
        http_get(self.http_port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The cameras whose session delivers frames on this edge.
    pub fn streaming(&self) -> Vec<String> {
        labelled(
            &self.metrics(),
            "xueliang_ingest_camera_streaming",
            "camera",
        )
        .into_iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(c, _)| c)
        .collect()
    }

    /// The series of `name` whose `label` is `value` (0 when absent).
    pub fn counter(&self, name: &str, label: &str, value: &str) -> f64 {
        labelled(&self.metrics(), name, label)
            .get(value)
            .copied()
            .unwrap_or(0.0)
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.0.id())
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        let mut p = self.process.take().expect("running");
        p.0.kill().unwrap();
        p.0.wait().unwrap();
        std::mem::forget(p);
    }

    /// SIGTERM and wait: a clean exit writes the node's tombstone.
    pub fn stop(&mut self) {
        drop(self.process.take());
    }

    /// SIGTERM without waiting, so that several processes drain at once; a later
    /// [`stop`](Self::stop) (or drop) waits.
    pub fn terminate(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }

    /// The last 30 lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A dispatcher process (`xueliang run --role dispatcher`): the process, and its desk API port.
pub struct Dispatcher {
    pub edge: Edge,
    pub api_port: u16,
}

/// Polls `done` every 200 ms until it holds; fails with `what()` after `limit`.
pub fn wait_until(limit: Duration, what: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{}", what());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every series of `name` by the value of `label`.
pub fn labelled(text: &str, name: &str, label: &str) -> BTreeMap<String, f64> {
    let key = format!("{label}=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix('{')?;
            let (labels, value) = rest.split_once("} ")?;
            let v = labels.split(&key).nth(1)?.split('"').next()?;
            Some((v.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The sum of every series of `name` (labelled or not; 0 when there is none).
pub fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

/// Who streams each camera, over the running edges.
pub fn placement(edges: &[Edge]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in edges.iter().filter(|e| e.process.is_some()) {
        for c in e.streaming() {
            out.entry(c).or_default().push(e.name.clone());
        }
    }
    out
}

/// Waits until each of `n` cameras streams on exactly one running edge; returns the
/// placement and how long it took. Panics with the edges' logs after `within`.
pub fn settled(edges: &[Edge], n: usize, within: Duration) -> (BTreeMap<String, String>, Duration) {
    try_settled(edges, n, within, Duration::from_millis(200)).unwrap_or_else(|e| panic!("{e}"))
}

/// [`settled`], polling every `poll`; the failure names the placement and ends with the
/// edges' logs.
pub fn try_settled(
    edges: &[Edge],
    n: usize,
    within: Duration,
    poll: Duration,
) -> Result<(BTreeMap<String, String>, Duration), String> {
    let start = Instant::now();
    loop {
        let p = placement(edges);
        if p.len() == n && p.values().all(|v| v.len() == 1) {
            return Ok((
                p.into_iter().map(|(c, mut e)| (c, e.remove(0))).collect(),
                start.elapsed(),
            ));
        }
        if start.elapsed() > within {
            let logs: Vec<String> = edges
                .iter()
                .map(|e| format!("--- {} ---\n{}", e.name, e.log_tail()))
                .collect();
            return Err(format!(
                "cameras not placed once each within {within:?}: {p:?}\n{}",
                logs.join("\n")
            ));
        }
        std::thread::sleep(poll);
    }
}

/// Waits until every running edge counts all of them as live: before that, cameras may still
/// move as the edges learn of each other, so a placement read earlier is not final.
pub fn wait_edges_see_each_other(edges: &[Edge], within: Duration) {
    let running: Vec<&Edge> = edges.iter().filter(|e| e.process.is_some()).collect();
    let n = running.len() as f64;
    wait_until(
        within,
        || format!("the {n} edges did not see each other"),
        || {
            running.iter().all(|e| {
                crate::http::metric(&e.metrics(), "xueliang_cluster_live_nodes") == Some(n)
            })
        },
    );
}

/// Logs in on a dispatcher's API; returns the bearer token.
pub fn login(port: u16, user: &str, password: &str) -> String {
    let body = serde_json::json!({"username": user, "password": password}).to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            write!(
                s,
                "POST /api/v1/login HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            if let Some((_, b)) = text.split_once("\r\n\r\n")
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(b)
                && let Some(t) = v["token"].as_str()
            {
                return t.to_string();
            }
        }
        assert!(Instant::now() < deadline, "cannot log in on port {port}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Reads a desk's event stream in a thread; the incident ids pushed so far (and, first, the
/// stream's first lines, for the failure message).
pub fn watch_events(port: u16, token: &str) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /api/v1/events HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let out = seen.clone();
    std::thread::spawn(move || {
        for (i, line) in BufReader::new(s).lines().enumerate() {
            let Ok(line) = line else { break };
            if i < 12 {
                out.lock().unwrap().push(format!("line: {line}"));
            }
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim())
                && let Some(id) = v["incident"]["id"].as_str()
            {
                out.lock().unwrap().push(id.to_string());
            }
        }
    });
    seen
}

/// The desk API's camera list as the user of `token` sees it, by camera id.
pub fn desk_cameras(port: u16, token: &str) -> BTreeMap<String, serde_json::Value> {
    let Some((200, body)) = get_as(port, "/api/v1/cameras", Some(token)) else {
        return BTreeMap::new();
    };
    let list: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
    list.into_iter()
        .map(|c| (c["id"].as_str().unwrap_or_default().to_string(), c))
        .collect()
}

/// The alert partitions a dispatcher holds (`None` when it does not answer).
pub fn held(d: &Dispatcher) -> Option<f64> {
    crate::http::metric(&d.edge.metrics(), "xueliang_dispatcher_assigned_partitions")
}

/// Waits until every one of `d` holds part of the alerts topic's `partitions`.
pub fn wait_partitions_shared(d: &[&Dispatcher], partitions: u32) {
    try_wait_partitions_shared(d, partitions, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// [`wait_partitions_shared`] within `limit`; returns how long it took.
pub fn try_wait_partitions_shared(
    d: &[&Dispatcher],
    partitions: u32,
    limit: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let h: Vec<_> = d.iter().map(|d| held(d)).collect();
        if h.iter().all(|n| n.is_some_and(|n| n > 0.0))
            && h.iter().flatten().sum::<f64>() == f64::from(partitions)
        {
            eprintln!("partitions held: {h:?}");
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            let logs: Vec<String> = d.iter().map(|d| d.edge.log_tail()).collect();
            return Err(format!(
                "the dispatchers did not share the partitions: {h:?}\n{}",
                logs.join("\n")
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A burst of test alerts on `xueliang.alerts` ([`try_produce_alerts`]).
#[derive(Clone, Debug)]
pub struct AlertBurst {
    pub alerts: usize,
    /// Alert `i` comes from camera `4403040000132{first_camera + i % cameras}`.
    pub first_camera: usize,
    /// Cameras the alerts cycle over (0: one camera, hence one incident, per alert).
    pub cameras: usize,
    pub rule_id: String,
    /// Pause after each alert (zero: as fast as librdkafka takes them).
    pub pace: Duration,
    /// `Some(pause)`: flush the first half and wait `pause` before the half-way hook runs
    /// (what lets a kill land between two known halves); `None`: run it at once.
    pub half_way_flush: Option<Duration>,
}

impl AlertBurst {
    /// The tests' burst: `n` alerts from cameras 9000…, rule id `cluster-test`, 10 ms apart.
    pub fn test(n: usize) -> AlertBurst {
        AlertBurst {
            alerts: n,
            first_camera: 9000,
            cameras: 0,
            rule_id: "cluster-test".into(),
            pace: Duration::from_millis(10),
            half_way_flush: Some(Duration::from_millis(300)),
        }
    }
}

/// `n` alerts from `n` cameras (one incident each) with rule id `cluster-test`, spread over
/// the partitions; `half_way` runs after the first half has been flushed.
pub fn produce_alerts(broker: &Broker, n: usize, half_way: impl FnOnce()) {
    try_produce_alerts(broker, &AlertBurst::test(n), half_way).unwrap_or_else(|e| panic!("{e}"))
}

/// Produces `burst` with an idempotent producer; `half_way` runs after the first half (see
/// [`AlertBurst::half_way_flush`]); returns once every alert is acknowledged.
pub fn try_produce_alerts(
    broker: &Broker,
    burst: &AlertBurst,
    half_way: impl FnOnce(),
) -> Result<(), String> {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::types::RDKafkaErrorCode;
    use xueliang_core::CameraId;
    use xueliang_core::contract::{AlertV1, EventType, Severity};
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("enable.idempotence", "true")
        .create()
        .map_err(|e| format!("creating a producer for {}: {e}", broker.bootstrap()))?;
    let flush = |p: &BaseProducer| {
        p.flush(Duration::from_secs(10))
            .map_err(|e| format!("flushing test alerts: {e}"))
    };
    let n = burst.alerts;
    let mut half_way = Some(half_way);
    for i in 0..n {
        let c = burst.first_camera
            + if burst.cameras > 0 {
                i % burst.cameras
            } else {
                i
            };
        let camera = CameraId::new(format!("4403040000132{c:07}"))
            .map_err(|e| format!("camera {c}: {e}"))?;
        let a = AlertV1::new(
            camera.clone(),
            EventType::ZoneIntrusion,
            Severity::Major,
            &burst.rule_id,
            chrono::Utc::now(),
        );
        let payload = a.to_json();
        let mut rec = BaseRecord::to("xueliang.alerts")
            .key(camera.as_str())
            .payload(&payload);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    rec = r;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(format!("producing a test alert: {e}")),
            }
        }
        producer.poll(Duration::ZERO);
        if i == n / 2 {
            if let Some(pause) = burst.half_way_flush {
                flush(&producer)?;
                std::thread::sleep(pause);
            }
            if let Some(f) = half_way.take() {
                f();
            }
        }
        if !burst.pace.is_zero() {
            std::thread::sleep(burst.pace);
        }
    }
    flush(&producer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_series_by_label_and_summed() {
        let text = "# HELP x\nx_total{camera=\"a\",reason=\"r\"} 3\nx_total{camera=\"b\"} 4.5\n\
                    x_total_other{camera=\"a\"} 9\ny 2\n";
        let by = labelled(text, "x_total", "camera");
        assert_eq!(by.get("a"), Some(&3.0));
        assert_eq!(by.get("b"), Some(&4.5));
        assert_eq!(by.len(), 2);
        assert_eq!(sum(text, "x_total"), 7.5);
        assert_eq!(sum(text, "y"), 2.0);
        assert_eq!(sum(text, "z"), 0.0);
    }

    #[test]
    fn inventories_name_every_camera_once() {
        let plain = inventory("127.0.0.1:1", 3, |_| String::new());
        assert!(plain.starts_with("[defaults]\nsampling = \"0.5fps\"\n\n[[camera]]\n"));
        assert_eq!(plain.matches("[[camera]]").count(), 3);
        assert!(plain.contains(&format!("id = \"{}\"", camera_id(2))));
        assert!(plain.ends_with("tier = \"police\"\n\n"), "{plain}");
        let ruled = camera_inventory("h:1", 2, "keyframes", "  [[camera.rule]]\n", |_| "x".into());
        assert_eq!(
            ruled
                .matches("tier = \"police\"\n  [[camera.rule]]\n\n")
                .count(),
            2
        );
        assert!(ruled.contains("name = \"测试 1x\""));
        assert_eq!(camera_id(0), "44030400001320000001");
    }

    #[test]
    fn node_configs_come_from_the_shipped_one() {
        let xl = Xueliang::new("/nonexistent/xueliang")
            .edit("status_interval_ms = 2000", "status_interval_ms = 1000");
        let text = xl
            .config_text("edge-9", "127.0.0.1:1234", 4321, "kafka")
            .unwrap();
        for want in [
            "name = \"edge-9\"",
            "data_dir = \"data-edge-9\"",
            "brokers = \"127.0.0.1:1234\"",
            "listen = \"127.0.0.1:4321\"",
            "cameras = \"kafka\"",
            "status_interval_ms = 1000",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert!(!text.contains("127.0.0.1:8080") && !text.contains("futian-edge-1"));
        let e = xl
            .edit("no such text", "x")
            .config_text("n", "b:1", 1, "file")
            .unwrap_err();
        assert!(e.contains("no such text"), "{e}");
    }
}
