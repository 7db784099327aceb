//! Issue #4's end-to-end test, with every part real: `xueliang camsim` serves the street clip
//! over RTSP, `xueliang run` (ingest + analyzer) decodes, detects, tracks and evaluates the
//! demo camera's rules, the alert goes through the spool to a real Kafka-protocol broker
//! (tansu), and a consumer reads a valid Alert v1 whose evidence JPEG decodes.

use xueliang_testkit::broker;
use xueliang_testkit::http::{get as http_get, metric};
use xueliang_testkit::process;

use process::Killed;

use base64::Engine as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xueliang_core::contract::{AlertV1, EventType, Severity, Snapshot};
use xueliang_dispatcher::store::{SqliteStore, Store as _, Synchronous};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running single camera pipeline: broker, camsim (with `camsim_args`), `xueliang run`.
/// Fields drop in order: the pipeline stops before its camera and its broker.
struct Pipeline {
    run: Killed,
    _camsim: Killed,
    broker: broker::Broker,
    topic: String,
    /// The `/metrics` + `/healthz` port of `xueliang run`.
    http_port: u16,
    /// Its log (warnings, and the per-alert delivery lines).
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn start_pipeline(camsim_args: &[&str], camera_edit: impl Fn(String) -> String) -> Pipeline {
    start_pipeline_with(camsim_args, camera_edit, |n| n)
}

fn start_pipeline_with(
    camsim_args: &[&str],
    camera_edit: impl Fn(String) -> String,
    node_edit: impl Fn(String) -> String,
) -> Pipeline {
    let broker = broker::Broker::start();
    let topic = format!("e2e-alerts-{}-{}", std::process::id(), broker.port());

    // Real RTSP server on a free port; it prints the bound address on stdout.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xueliang"));
    cmd.args(["camsim", "--cameras", "1", "--port", "0", "--clip", "vtest"])
        .args(camsim_args);
    let (camsim, addr) = process::camsim(cmd);

    // The demo config, with camera 0 pointed at camsim, the broker and topic of this test.
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("deploy/single-node");
    std::fs::copy(
        src.join("jurisdictions.geojson"),
        dir.path().join("jurisdictions.geojson"),
    )
    .unwrap();
    let cams = std::fs::read_to_string(src.join("cameras.toml")).unwrap();
    let cam0_end = cams
        .find("[[camera]]\nid = \"44030400001320000002\"")
        .unwrap();
    let cams = camera_edit(cams[..cam0_end].replace("127.0.0.1:8554", &addr));
    std::fs::write(dir.path().join("cameras.toml"), cams).unwrap();
    let http_port = broker::free_port();
    let node = std::fs::read_to_string(src.join("xueliang.toml"))
        .unwrap()
        .replace("data_dir = \"../../.xueliang-data\"", "data_dir = \"data\"")
        .replace("127.0.0.1:9092", &broker.bootstrap())
        .replace(
            "alerts_topic = \"xueliang.alerts\"",
            &format!("alerts_topic = \"{topic}\""),
        )
        .replace("127.0.0.1:9464", &format!("127.0.0.1:{http_port}"))
        .replace(
            "127.0.0.1:8080",
            &format!("127.0.0.1:{}", broker::free_port()),
        );
    std::fs::write(dir.path().join("xueliang.toml"), node_edit(node)).unwrap();

    let log = dir.path().join("run.log");
    let run = Killed(
        Command::new(env!("CARGO_BIN_EXE_xueliang"))
            .args(["run", "--config"])
            .arg(dir.path().join("xueliang.toml"))
            .env("RUST_LOG", "warn,xueliang::delivered=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    Pipeline {
        broker,
        topic,
        _camsim: camsim,
        run,
        http_port,
        log,
        _dir: dir,
    }
}

/// Reads alerts from the pipeline's topic until `want` accepts one (or 90 s pass).
fn wait_for_alert(p: &Pipeline, want: impl Fn(&AlertV1) -> bool) -> AlertV1 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", p.broker.bootstrap())
        .set("group.id", format!("e2e-{}", p.topic))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    // The publisher creates the topic when it starts; subscribing first is fine.
    consumer.subscribe(&[&p.topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert!(
            Instant::now() < deadline,
            "no matching alert within 90 s\nbroker log:\n{}",
            p.broker.log_tail()
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            let key = m.key().map(|k| String::from_utf8_lossy(k).to_string());
            let alert = AlertV1::from_json(m.payload().unwrap()).expect("a valid Alert v1");
            assert_eq!(
                key.as_deref(),
                Some(alert.camera_id.as_str()),
                "key = camera id"
            );
            if want(&alert) {
                return alert;
            }
        }
    }
}

#[test]
fn camsim_to_kafka_alert_with_evidence() {
    let p = start_pipeline(&[], |c| c);
    // The clip's first line crossing is ~6 s in and the crowd ~10 s in (2 fps sampling).
    let alert = wait_for_alert(&p, |a| !a.event_type.is_camera_fault());
    assert_eq!(alert.camera_id.as_str(), "44030400001320000001");
    // The edge's log names every delivered alert with its partition and offset, so its
    // output reconciles with the topic after a crash.
    let id = alert.alert_id.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&p.log).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(&id)) {
            break l.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no delivery line for {id}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        line.contains("alert delivered") && line.contains("partition=") && line.contains("offset="),
        "{line}"
    );
    assert!(!alert.objects.is_empty(), "{alert:?}");
    assert_eq!(alert.frame_size, Some([768, 576]));
    assert_eq!(alert.model.as_ref().unwrap().name, "nanodet-m-416");
    assert!(alert.captured_at <= alert.detected_at && alert.detected_at <= alert.published_at);
    let Some(Snapshot::Inline {
        content_type,
        data_base64,
    }) = &alert.snapshot
    else {
        panic!("no inline snapshot: {alert:?}");
    };
    assert_eq!(content_type, "image/jpeg");
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(data_base64)
        .unwrap();
    assert!(jpeg.len() <= 200_000, "{} bytes", jpeg.len());
    let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (768, 576),
        "evidence at the camera's resolution"
    );

    // The dispatcher role of the same process persisted it, routed to the station whose
    // polygon holds the camera (福田派出所).
    let db = p._dir.path().join("data/dispatcher.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let found = rt.block_on(async {
            let store = SqliteStore::open(&db, Synchronous::Full).ok()?;
            store.get_alert(alert.alert_id).await.ok().flatten()
        });
        if let Some(s) = found {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "alert {} not persisted by the dispatcher",
            alert.alert_id
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(stored.desk_id.as_str(), "futian-ps");
    assert_eq!(stored.alert, alert);
}

/// Camera health through the same path: camsim stops sending media after 2 s but keeps the
/// connection open; with video_loss_s = 4 the camera's video-loss alert reaches Kafka.
#[test]
fn a_stalled_camera_raises_one_video_loss_alert() {
    let p = start_pipeline(&["--stall-after", "2s"], |c| {
        c.replacen(
            "tags = [\"plaza\", \"pedestrian\"]",
            "tags = [\"plaza\", \"pedestrian\"]\nhealth = { video_loss_s = 4 }",
            1,
        )
    });
    let alert = wait_for_alert(&p, |a| a.event_type == EventType::VideoLoss);
    assert_eq!(alert.camera_id.as_str(), "44030400001320000001");
    assert!(alert.summary.contains("no frame for"), "{}", alert.summary);
    assert_eq!(alert.severity, Severity::Major);
}

/// Regression (issue #12): with the broker gone first — as `./xl demo` used to stop it —
/// `xueliang run` logged "stopped" and then hung for good in librdkafka's consumer close.
/// Now it exits within `drain_timeout_s` + 5 s, and the alert it could not deliver waits in
/// the spool for the next start.
#[test]
fn shutdown_ends_when_the_broker_went_first() {
    const DRAIN_S: u64 = 4;
    let mut p = start_pipeline_with(
        &["--stall-after", "2s"],
        |c| {
            c.replacen(
                "tags = [\"plaza\", \"pedestrian\"]",
                "tags = [\"plaza\", \"pedestrian\"]\nhealth = { video_loss_s = 4 }",
                1,
            )
        },
        |n| {
            n.replace(
                "drain_timeout_s = 10",
                &format!("drain_timeout_s = {DRAIN_S}"),
            )
        },
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while http_get(p.http_port, "/healthz").map(|(s, _)| s) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "xueliang run never became healthy"
        );
        assert!(
            p.run.0.try_wait().unwrap().is_none(),
            "xueliang run exited early"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The broker dies; the camera stalls and its video-loss alert can only be spooled.
    p.broker.kill();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spooled = http_get(p.http_port, "/metrics")
            .and_then(|(_, m)| metric(&m, "xueliang_spool_records"))
            .unwrap_or(0.0);
        if spooled >= 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no alert reached the spool within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let asked = Instant::now();
    let pid = p.run.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let limit = Duration::from_secs(DRAIN_S + 5);
    let status = loop {
        if let Some(status) = p.run.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < limit,
            "xueliang run still running {limit:?} after SIGTERM with the broker gone"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean shutdown exits 0: {status:?}");
    eprintln!(
        "exited {:.1} s after SIGTERM",
        asked.elapsed().as_secs_f32()
    );

    // Nothing lost: the undelivered alert is in the spool, intact.
    let spool_dir = p._dir.path().join("data/spool");
    let (spool, _) = xueliang_analyzer::publish::Spool::open(&spool_dir, 1 << 30).unwrap();
    let mut cursor = spool.cursor();
    let mut alerts = Vec::new();
    while let Some(rec) = spool.read(&mut cursor).unwrap() {
        alerts.push(AlertV1::from_json(&rec.value).expect("a valid Alert v1 in the spool"));
    }
    assert!(
        alerts.iter().any(|a| a.event_type == EventType::VideoLoss),
        "the video-loss alert is not in the spool: {alerts:?}"
    );
}
