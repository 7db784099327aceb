//! The Kafka-protocol broker the benches start for themselves, and what they share to talk to
//! it (topic creation, delivery counting). The broker: tansu on a free loopback port,
//! SQLite storage in a temporary directory, exactly as the integration tests start it
//! (analyzer/tests/support/broker.rs), killed on drop.

use anyhow::{Context, anyhow, bail, ensure};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;
use rdkafka::types::RDKafkaErrorCode;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One tansu process on a free loopback port, storing to SQLite in a temporary directory.
/// Killed on drop.
pub struct Tansu {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

pub const TANSU_VERSION: &str = "0.6.0";

fn tansu_binary() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("XUELIANG_TANSU").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => xueliang_core::paths::cache_dir().join(format!("tansu-{TANSU_VERSION}/bin/tansu")),
    };
    ensure!(
        path.is_file(),
        "the Kafka-protocol broker tansu {TANSU_VERSION} is not at {} (XUELIANG_TANSU or the \
         cache): run ./xl setup, or point the bench at a broker with --broker HOST:PORT",
        path.display()
    );
    Ok(path)
}

impl Tansu {
    pub fn start() -> anyhow::Result<Tansu> {
        let bin = tansu_binary()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free loopback port for the broker")?
            .port();
        let dir = tempfile::Builder::new()
            .prefix("xl-bench-tansu-")
            .tempdir()
            .context("creating a temporary directory for the broker")?;
        let log = std::fs::File::create(dir.path().join("tansu.log"))?;
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .current_dir(dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://tansu.db",
            ])
            .env_remove("CLUSTER_ID")
            .env_remove("STORAGE_ENGINE")
            .env_remove("LISTENER_URL")
            .env_remove("ADVERTISED_LISTENER_URL")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut t = Tansu {
            child: Some(child),
            port,
            dir,
        };
        let addr: SocketAddr = t.bootstrap().parse()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(Ok(Some(status))) = t.child.as_mut().map(|c| c.try_wait()) {
                t.child = None;
                bail!("tansu exited at start ({status}):\n{}", t.log_tail());
            }
            ensure!(
                Instant::now() < deadline,
                "tansu did not listen on {addr} within 20 s:\n{}",
                t.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(t)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("tansu.log")) {
            let _ = f.read_to_string(&mut s);
        }
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Creates `topic` (an existing one is fine).
pub async fn create_topic(brokers: &str, topic: &str, partitions: u32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .with_context(|| format!("creating a Kafka admin client for {brokers}"))?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let new = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(1));
    let results = tokio::time::timeout(Duration::from_secs(60), admin.create_topics([&new], &opts))
        .await
        .map_err(|_| anyhow!("the broker {brokers} did not create topic {topic} within 60 s"))?
        .with_context(|| format!("creating topic {topic} on {brokers}"))?;
    for r in results {
        if let Err((t, code)) = r {
            ensure!(
                code == RDKafkaErrorCode::TopicAlreadyExists,
                "creating topic {t} on {brokers}: {code}"
            );
        }
    }
    Ok(())
}

/// Counts delivery reports, so a bench never reports alerts the broker did not take.
#[derive(Default)]
pub struct Deliveries {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

pub struct DeliveryContext(pub Arc<Deliveries>);

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => {
                self.0.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                *self.0.last_error.lock().expect("delivery lock") = Some(e.to_string());
            }
        }
    }
}
