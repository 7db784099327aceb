//! The binary's contract with its users: the help lists every subcommand, check-config accepts
//! the shipped example and names an unknown key, `run` serves /healthz and /metrics and drains
//! on SIGTERM.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xueliang_testkit::Killed;
use xueliang_testkit::http::get as http_get;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xueliang"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn help_lists_every_subcommand() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in ["run", "camsim", "models", "analyze-file", "check-config"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "`{sub}` missing from --help:\n{help}"
        );
    }
    let out = bin().args(["run", "--help"]).output().unwrap();
    let run_help = String::from_utf8(out.stdout).unwrap();
    for role in ["edge", "dispatcher"] {
        assert!(run_help.contains(role), "{run_help}");
    }
}

#[test]
fn check_config_accepts_the_shipped_example() {
    let out = bin()
        .arg("check-config")
        .arg(repo().join("deploy/single-node/xueliang.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("OK") && stdout.contains("6 (6 enabled"),
        "{stdout}"
    );
}

#[test]
fn check_config_names_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("deploy/single-node");
    for f in ["cameras.toml", "jurisdictions.geojson"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let text = std::fs::read_to_string(src.join("xueliang.toml")).unwrap();
    let bad = text.replace("[kafka]\n", "[kafka]\nbrokerz = \"x:1\"\n");
    assert_ne!(bad, text);
    std::fs::write(dir.path().join("xueliang.toml"), bad).unwrap();
    let out = bin()
        .arg("check-config")
        .arg(dir.path().join("xueliang.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kafka.brokerz"), "{err}");
    assert!(err.contains("xueliang.toml:"), "{err}");
}

#[test]
fn run_serves_health_and_metrics_and_drains_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A private copy of the demo config, so the spool and store land in a temp dir.
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("deploy/single-node");
    for f in ["cameras.toml", "jurisdictions.geojson"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let text = std::fs::read_to_string(src.join("xueliang.toml")).unwrap();
    let text = text.replace("data_dir = \"../../.xueliang-data\"", "data_dir = \"data\"");
    assert!(text.contains("data_dir = \"data\""));
    std::fs::write(dir.path().join("xueliang.toml"), text).unwrap();
    // Stopped on drop, so a failed assertion never leaves a pipeline holding the ports.
    let mut child = Killed(
        bin()
            .args(["run", "--config"])
            .arg(dir.path().join("xueliang.toml"))
            .args(["--http-listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        match http_get(port, "/healthz") {
            // 503 "starting" while the model loads; anything else is the answer.
            Some(r) if !r.1.contains("\"starting\"") => break r,
            _ => {}
        }
        assert!(Instant::now() < deadline, "not ready within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health.0, 200, "{}", health.1);
    let v: serde_json::Value = serde_json::from_str(&health.1).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["roles"]["dispatcher"], "running", "{v}");
    assert_eq!(v["roles"]["edge"], "running", "{v}");
    assert_eq!(v["roles"].as_object().unwrap().len(), 2, "{v}");

    let (code, metrics) = http_get(port, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(metrics.contains("xueliang_build_info"), "{metrics}");
    assert!(metrics.contains("node=\"futian-edge-1\""), "{metrics}");

    let t0 = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("draining") && log.contains("stopped"), "{log}");
}

#[test]
fn models_list_knows_the_default_model_and_fetch_rejects_unknown_ones() {
    let out = bin().args(["models", "list"]).output().unwrap();
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("nanodet-m-416"), "{list}");
    let out = bin()
        .args(["models", "fetch", "yolo-nonexistent"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model"));
}

/// The real model on the real clip: analyze-file prints tracked detections per frame and the
/// demo camera's crowd rule fires exactly once in the first 24 s (five people on the path).
#[test]
fn analyze_file_tracks_people_and_fires_the_crowd_rule_once() {
    let out = bin()
        .args([
            "analyze-file",
            "--video",
            "/usr/share/doc/opencv-doc/examples/data/vtest.avi",
        ])
        .args(["--from-s", "0", "--to-s", "24", "--config"])
        .arg(repo().join("deploy/single-node/xueliang.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let frames: Vec<_> = lines.iter().filter(|v| v["type"] == "frame").collect();
    // The demo camera samples at 2 fps: ~48 frames in 24 s.
    assert!((44..=50).contains(&frames.len()), "{} frames", frames.len());
    let tracked_persons = frames
        .iter()
        .flat_map(|f| f["detections"].as_array().unwrap())
        .filter(|d| d["class"] == "person" && d["track"].is_u64())
        .count();
    assert!(
        tracked_persons > 100,
        "{tracked_persons} tracked person boxes"
    );
    let crowd: Vec<_> = lines
        .iter()
        .filter(|v| v["type"] == "event" && v["event_type"] == "crowd_gathering")
        .collect();
    assert_eq!(crowd.len(), 1, "{crowd:?}");
    assert_eq!(crowd[0]["rule_id"], "plaza-crowd");
    assert!(crowd[0]["objects"].as_array().unwrap().len() >= 5);
}

/// A role that cannot start stops the process with a non-zero exit and an error naming the
/// role and the setting, so a supervisor restarts it and an operator knows what to fix.
#[test]
fn run_exits_non_zero_naming_the_role_that_failed() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("deploy/single-node");
    for f in ["cameras.toml", "jurisdictions.geojson"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let text = std::fs::read_to_string(src.join("xueliang.toml"))
        .unwrap()
        .replace("data_dir = \"../../.xueliang-data\"", "data_dir = \"data\"")
        .replace(
            "database = \"sqlite://dispatcher.db\"",
            "database = \"postgres://nobody@127.0.0.1:1/none\"",
        );
    assert!(text.contains("127.0.0.1:1/none"));
    std::fs::write(dir.path().join("xueliang.toml"), text).unwrap();
    let port = |_: ()| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string()
    };
    let t0 = Instant::now();
    let out = bin()
        .args(["run", "--role", "dispatcher", "--config"])
        .arg(dir.path().join("xueliang.toml"))
        .args(["--http-listen", &port(()), "--api-listen", &port(())])
        .output()
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("starting the dispatcher role") && stderr.contains("dispatcher.database"),
        "{stderr}"
    );
}
