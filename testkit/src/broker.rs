//! A real Kafka-protocol broker (tansu) for integration tests: one process per test, on its
//! own loopback port, storing to SQLite in a temporary directory so that it can be stopped
//! and started again with its data (the broker-outage tests need exactly that).
//!
//! The binary comes from `$XUELIANG_TANSU`, else `<cache>/tansu-0.6.0/bin/tansu` with
//! `<cache>` = `${XUELIANG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xueliang}`; `./xl setup`
//! builds it there. A missing binary fails the test (it never skips).

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TANSU_VERSION: &str = "0.6.0";

/// Where the tansu binary is; panics with the fix when it is not there.
pub fn tansu_binary() -> PathBuf {
    try_tansu_binary().unwrap_or_else(|e| panic!("{e}"))
}

/// Where the tansu binary is, or what to do to get it.
pub fn try_tansu_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("XUELIANG_TANSU").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(format!(
                "XUELIANG_TANSU={} does not exist; unset it or run ./xl setup",
                p.display()
            ));
        }
        return Ok(p);
    }
    let cache = std::env::var_os("XUELIANG_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("xueliang")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/xueliang")))
        .ok_or("neither XUELIANG_CACHE, XDG_CACHE_HOME nor HOME is set")?;
    let p = cache.join(format!("tansu-{TANSU_VERSION}/bin/tansu"));
    if !p.is_file() {
        return Err(format!(
            "the Kafka-protocol broker tansu {TANSU_VERSION} is not at {} (nor set in \
             XUELIANG_TANSU): run ./xl setup",
            p.display()
        ));
    }
    Ok(p)
}

/// A free loopback port (released just before use; the window for a clash is tiny).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral loopback port")
        .port()
}

/// One tansu process. Killed on drop.
pub struct Broker {
    bin: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    starts: u32,
}

impl Broker {
    /// Starts a broker on a fresh port with fresh SQLite storage and waits until it accepts
    /// connections.
    pub fn start() -> Broker {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`start`](Self::start) for tools that report errors instead of panicking (the
    /// benchmark harness).
    pub fn try_start() -> Result<Broker, String> {
        let mut b = Broker {
            bin: try_tansu_binary()?,
            port: free_port(),
            dir: tempfile::Builder::new()
                .prefix("tansu-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory for tansu: {e}"))?,
            child: None,
            starts: 0,
        };
        b.spawn()?;
        Ok(b)
    }

    /// The broker's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's working directory (its SQLite file and logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGTERM and wait for the process to exit (tansu takes ~2 s).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
            self.wait_port_closed();
        }
    }

    /// SIGKILL: a crash, not a shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.wait_port_closed();
        }
    }

    /// Starts the broker again on the same port with the same storage.
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "broker is still running; stop it first"
        );
        self.spawn().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Creates a topic with the tansu CLI.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let out = Command::new(&self.bin)
            .current_dir(self.dir.path())
            .args([
                "topic",
                "create",
                name,
                "--broker",
                &format!("tcp://{}", self.bootstrap()),
                "--partitions",
                &partitions.to_string(),
            ])
            .output()
            .expect("run tansu topic create");
        assert!(
            out.status.success(),
            "tansu topic create {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The last lines the broker logged (for failure messages).
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        for n in 1..=self.starts {
            let path = self.dir.path().join(format!("tansu-{n}.log"));
            let mut s = String::new();
            if let Ok(mut f) = std::fs::File::open(&path) {
                let _ = f.read_to_string(&mut s);
            }
            let lines: Vec<&str> = s.lines().collect();
            let from = lines.len().saturating_sub(20);
            text.push_str(&format!(
                "--- {}\n{}\n",
                path.display(),
                lines[from..].join("\n")
            ));
        }
        text
    }

    fn spawn(&mut self) -> Result<(), String> {
        self.starts += 1;
        let log = std::fs::File::create(self.dir.path().join(format!("tansu-{}.log", self.starts)))
            .map_err(|e| format!("cannot create the tansu log: {e}"))?;
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.bin)
            .current_dir(self.dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://tansu.db",
            ])
            // Settings in the environment would override nothing we pass, but keep them out.
            .env_remove("CLUSTER_ID")
            .env_remove("STORAGE_ENGINE")
            .env_remove("LISTENER_URL")
            .env_remove("ADVERTISED_LISTENER_URL")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let addr: SocketAddr = self.bootstrap().parse().expect("loopback address");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!(
                    "tansu exited at start ({status}):\n{}",
                    self.log_tail()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "tansu did not listen on {addr} within 20 s:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn wait_port_closed(&self) {
        let addr: SocketAddr = self.bootstrap().parse().expect("loopback address");
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
