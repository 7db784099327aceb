//! The cluster as processes on this machine: tansu, `xueliang camsim`, three edges
//! (`xueliang run --role edge` with `cluster.cameras = "kafka"`) and `xueliang cameras
//! apply|list`. Every camera must stream on exactly one edge, move within the documented time
//! when its edge is killed -9 or leaves, and be the only one restarted when it changes; an
//! invalid record on the topic is skipped and counted, and no edge stops for it.
//! Also: the single node reloads its inventory file on SIGHUP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use xueliang_testkit::broker::{self, Broker};
use xueliang_testkit::cluster::{
    Dispatcher, Edge, Xueliang, camera_id, desk_cameras, held, inventory, login, placement,
    produce_alerts, settled, wait_edges_see_each_other, wait_partitions_shared, wait_until,
    watch_events,
};
use xueliang_testkit::http::metric;

const CAMERAS: usize = 12;
/// `cluster.node_timeout_s` of the shipped config plus the time to open an RTSP session:
/// what the docs promise for a takeover (the target is 10 s).
const TAKEOVER_LIMIT: Duration = Duration::from_secs(10);
/// `cluster.unwatched_after_s` in these tests.
const UNWATCHED_AFTER: Duration = Duration::from_secs(12);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test, with this file's config tuning: camera status every second, and
/// the shortest unwatched limit a takeover allows (5 + 2 × 1 + 5 s): a takeover that came near
/// it would fail the test.
fn xl() -> Xueliang {
    Xueliang::new(env!("CARGO_BIN_EXE_xueliang"))
        .edit("status_interval_ms = 2000", "status_interval_ms = 1000")
        .edit(
            "unwatched_after_s = 30",
            format!("unwatched_after_s = {}", UNWATCHED_AFTER.as_secs()),
        )
}

fn xueliang() -> Command {
    xl().command()
}

#[test]
fn cameras_follow_the_live_edges() {
    let mut broker = Broker::start();
    let (_camsim, addr) = xl().camsim(CAMERAS, "360p");
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("cameras.toml");
    std::fs::write(&inv, inventory(&addr, CAMERAS, |_| String::new())).unwrap();
    let admin = xl().node_config(dir.path(), "admin", &broker, 0, "kafka");

    // An inventory with a mistake is refused whole, naming the camera and key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        inventory(&addr, 2, |_| String::new()).replace("rtsp://", "http://"),
    )
    .unwrap();
    let out = xueliang()
        .args(["cameras", "apply", "--config"])
        .arg(&admin)
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("camera[0].url") && err.contains("nothing was published"),
        "{err}"
    );

    let d = xl().apply(&admin, &inv);
    assert_eq!(d["added"].as_array().unwrap().len(), CAMERAS, "{d}");
    assert_eq!(
        xl().apply(&admin, &inv)["unchanged"],
        CAMERAS,
        "re-applying is a no-op"
    );

    let mut edges: Vec<Edge> = (1..=3)
        .map(|i| xl().start_edge(dir.path(), &format!("edge-{i}"), &broker, "kafka"))
        .collect();
    wait_edges_see_each_other(&edges, Duration::from_secs(60));
    let (before, took) = settled(&edges, CAMERAS, Duration::from_secs(30));
    eprintln!("placed {CAMERAS} cameras on 3 edges in {took:?}: {before:?}");
    for e in &edges {
        let n = before.values().filter(|o| **o == e.name).count();
        assert!(n > 0, "{} got no camera: {before:?}", e.name);
    }

    // `cameras list` computes the same owners from the topics.
    let out = xueliang()
        .args(["cameras", "list", "--json", "--config"])
        .arg(&admin)
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in listed["cameras"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        assert_eq!(c["owner"].as_str(), Some(before[id].as_str()), "{listed}");
    }
    assert_eq!(listed["nodes"].as_array().unwrap().len(), 3, "{listed}");

    // One camera changes: only it restarts, on its owner.
    let changed = camera_id(4);
    let edited = dir.path().join("edited.toml");
    std::fs::write(
        &edited,
        inventory(&addr, CAMERAS, |i| {
            if i == 4 {
                " (改名)".into()
            } else {
                String::new()
            }
        }),
    )
    .unwrap();
    let restarts = |edges: &[Edge]| -> Vec<f64> {
        edges
            .iter()
            .map(|e| {
                e.counter(
                    "xueliang_ingest_inventory_changes_total",
                    "change",
                    "restarted",
                )
            })
            .collect()
    };
    let r0 = restarts(&edges);
    let d = xl().apply(&admin, &edited);
    assert_eq!(d["changed"], serde_json::json!([changed]), "{d}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let owner = edges
        .iter()
        .position(|e| e.name == before[&changed])
        .unwrap();
    loop {
        let r = restarts(&edges);
        let delta: Vec<f64> = r.iter().zip(&r0).map(|(a, b)| a - b).collect();
        if delta[owner] >= 1.0 {
            let others: f64 = delta.iter().sum::<f64>() - delta[owner];
            assert_eq!(delta[owner], 1.0, "{delta:?}");
            assert_eq!(
                others, 0.0,
                "a camera that did not change restarted: {delta:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change was not applied: {delta:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A record that is not a valid camera reaches the topic anyway: skipped, counted.
    rdkafka_produce(
        &broker.bootstrap(),
        "xueliang.cameras",
        "bad-camera",
        b"{\"id\": 3}",
    );
    wait_until(
        Duration::from_secs(10),
        || "the invalid record was not counted".into(),
        || {
            edges
                .iter()
                .all(|e| metric(&e.metrics(), "xueliang_cluster_inventory_invalid") == Some(1.0))
        },
    );

    // kill -9 of the busiest edge: its cameras stream again on the survivors, nobody else's
    // camera moves or restarts, and once settled each camera runs once.
    let victim = (0..3)
        .max_by_key(|i| before.values().filter(|o| **o == edges[*i].name).count())
        .unwrap();
    let survivors_restarts = restarts(&edges);
    let removed = |e: &Edge| {
        e.counter(
            "xueliang_ingest_inventory_changes_total",
            "change",
            "removed",
        )
    };
    let removed_before: Vec<f64> = edges.iter().map(removed).collect();
    edges[victim].kill9();
    let (after, took) = settled(&edges, CAMERAS, TAKEOVER_LIMIT);
    eprintln!("takeover after kill -9 of {}: {took:?}", edges[victim].name);
    for (cam, owner) in &before {
        if *owner != edges[victim].name {
            assert_eq!(&after[cam], owner, "{cam} moved though its edge is alive");
        }
    }
    let r = restarts(&edges);
    for i in (0..3).filter(|i| *i != victim) {
        assert_eq!(
            r[i], survivors_restarts[i],
            "{} restarted cameras",
            edges[i].name
        );
        assert_eq!(
            removed(&edges[i]),
            removed_before[i],
            "{} dropped a camera",
            edges[i].name
        );
    }
    std::thread::sleep(Duration::from_secs(3));
    let p = placement(&edges);
    assert!(
        p.values().all(|v| v.len() == 1),
        "double-analysed once settled: {p:?}"
    );

    // A clean exit hands over at once (the tombstone), well inside the node timeout.
    let leaving = (0..3).find(|i| *i != victim).unwrap();
    let t0 = Instant::now();
    edges[leaving].stop();
    settled(&edges, CAMERAS, Duration::from_secs(4));
    let took = t0.elapsed();
    eprintln!(
        "handover after a clean exit of {}: {took:?}",
        edges[leaving].name
    );
    assert!(took < Duration::from_secs(4), "{took:?}");

    // A node joining takes cameras only from the others, and only what it now scores
    // highest on; nobody else's camera moves.
    let (alone, _) = settled(&edges, CAMERAS, Duration::from_secs(4));
    edges.push(xl().start_edge(dir.path(), "edge-4", &broker, "kafka"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let joined = loop {
        let (p, _) = settled(&edges, CAMERAS, Duration::from_secs(30));
        if p.values().any(|o| o == "edge-4") {
            std::thread::sleep(Duration::from_secs(2));
            break settled(&edges, CAMERAS, Duration::from_secs(10)).0;
        }
        assert!(
            Instant::now() < deadline,
            "edge-4 never took a camera: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let moved: Vec<_> = alone.keys().filter(|c| alone[*c] != joined[*c]).collect();
    eprintln!(
        "edge-4 joined 1 live edge and took {} of {CAMERAS} cameras",
        moved.len()
    );
    for c in &moved {
        assert_eq!(joined[*c], "edge-4", "{c} moved between two old edges");
    }
    assert!(moved.len() < CAMERAS, "the joiner took everything");

    // The broker goes away for longer than the node timeout: nobody is judged gone, every
    // camera keeps streaming on the edge that had it.
    broker.kill();
    std::thread::sleep(Duration::from_secs(8));
    let p = placement(&edges);
    let during: BTreeMap<String, String> = p
        .iter()
        .filter(|(_, v)| v.len() == 1)
        .map(|(c, v)| (c.clone(), v[0].clone()))
        .collect();
    assert_eq!(
        during, joined,
        "a broker outage moved or stopped cameras: {p:?}"
    );
}

fn rdkafka_produce(brokers: &str, topic: &str, key: &str, value: &[u8]) {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    p.send(BaseRecord::to(topic).key(key).payload(value))
        .map_err(|(e, _)| e)
        .unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
}

#[test]
fn the_single_node_reloads_its_inventory_on_sighup() {
    let broker = Broker::start();
    let (_camsim, addr) = xl().camsim(3, "360p");
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("cameras.toml");
    std::fs::write(&inv, inventory(&addr, 2, |_| String::new())).unwrap();
    let edge = xl().start_edge(dir.path(), "single", &broker, "file");
    let edges = [edge];
    settled(&edges, 2, Duration::from_secs(30));
    // A dispatcher on the same inventory file lists the cameras it routes.
    let desk = xl().start_dispatcher(dir.path(), "desk", &broker, "sqlite://dispatcher.db");
    // Added while the dispatcher starts on its new SQLite file: both migrate it (once).
    xl().add_centre_user(&dir.path().join("desk.toml"));
    let token = login(desk.api_port, "duty", "cluster-test-pw");
    assert_eq!(desk_cameras(desk.api_port, &token).len(), 2);
    let pids = [
        edges[0].process.as_ref().unwrap().0.id().to_string(),
        desk.edge.process.as_ref().unwrap().0.id().to_string(),
    ];
    let hup = || {
        for pid in &pids {
            assert!(
                Command::new("kill")
                    .args(["-HUP", pid])
                    .status()
                    .unwrap()
                    .success()
            )
        }
    };

    // A third camera appears; the two running ones are not restarted, and the dispatcher
    // lists (and routes) the new one.
    std::fs::write(&inv, inventory(&addr, 3, |_| String::new())).unwrap();
    hup();
    settled(&edges, 3, Duration::from_secs(10));
    wait_until(
        Duration::from_secs(10),
        || {
            format!(
                "the dispatcher kept {:?}",
                desk_cameras(desk.api_port, &token).keys()
            )
        },
        || desk_cameras(desk.api_port, &token).len() == 3,
    );
    let e = &edges[0];
    assert_eq!(
        e.counter("xueliang_config_reloads_total", "outcome", "applied"),
        1.0
    );
    assert_eq!(
        e.counter(
            "xueliang_ingest_inventory_changes_total",
            "change",
            "restarted"
        ),
        0.0
    );

    // A broken file is refused whole: the three cameras keep running.
    std::fs::write(
        &inv,
        inventory(&addr, 1, |_| String::new()).replace("0.5fps", "fast"),
    )
    .unwrap();
    hup();
    wait_until(
        Duration::from_secs(10),
        || "the broken reload was not counted".into(),
        || e.counter("xueliang_config_reloads_total", "outcome", "rejected") >= 1.0,
    );
    assert_eq!(e.streaming().len(), 3, "{}", e.log_tail());
    assert!(
        e.log_tail().contains("defaults.sampling"),
        "{}",
        e.log_tail()
    );
}

#[test]
fn dispatchers_share_the_alerts_and_fail_over_without_loss() {
    let broker = Broker::start();
    broker.create_topic("xueliang.alerts", 6);
    let pg = xueliang_testkit::postgres::TempDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cameras.toml"),
        inventory("127.0.0.1:1", 1, |_| String::new()),
    )
    .unwrap();

    let mut d: Vec<Dispatcher> = (1..=2)
        .map(|i| xl().start_dispatcher(dir.path(), &format!("disp-{i}"), &broker, pg.url()))
        .collect();
    xl().add_centre_user(&dir.path().join("disp-1.toml"));
    wait_partitions_shared(&d.iter().collect::<Vec<_>>(), 6);
    let token = login(d[1].api_port, "duty", "cluster-test-pw");
    let pushed = watch_events(d[1].api_port, &token);
    std::thread::sleep(Duration::from_millis(500));

    // 240 alerts from 240 cameras (one incident each), spread over the partitions; the
    // dispatcher that read half of them is killed -9 half-way.
    const ALERTS: usize = 240;
    produce_alerts(&broker, ALERTS, || d[0].edge.kill9());

    // Every alert stored once, every incident one alert, and the surviving dispatcher's desk
    // saw every incident, whichever dispatcher consumed it.
    let mut db = postgres::Client::connect(pg.url(), postgres::NoTls).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (alerts, per_incident) = loop {
        let n: i64 = db
            .query_one(
                "SELECT COUNT(*) FROM alerts WHERE rule_id = 'cluster-test'",
                &[],
            )
            .unwrap()
            .get(0);
        let sum: i64 = db
            .query_one(
                "SELECT COALESCE(SUM(alert_count), 0)::BIGINT FROM incidents WHERE incident_id IN \
                 (SELECT incident_id FROM alerts WHERE rule_id = 'cluster-test')",
                &[],
            )
            .unwrap()
            .get(0);
        if n as usize >= ALERTS || Instant::now() > deadline {
            break (n as usize, sum as usize);
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(alerts, ALERTS, "alerts lost\n{}", d[1].edge.log_tail());
    assert_eq!(
        per_incident, ALERTS,
        "an alert counted twice in its incident"
    );
    let incidents: Vec<String> = db
        .query(
            "SELECT DISTINCT incident_id FROM alerts WHERE rule_id = 'cluster-test'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    assert_eq!(incidents.len(), ALERTS);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen: std::collections::BTreeSet<String> =
            pushed.lock().unwrap().iter().cloned().collect();
        let missing: Vec<_> = incidents.iter().filter(|i| !seen.contains(*i)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {ALERTS} incidents never pushed to the surviving dispatcher's desk; the \
             stream began: {:?}\n{}",
            missing.len(),
            pushed.lock().unwrap().iter().take(12).collect::<Vec<_>>(),
            d[1].edge
                .metrics()
                .lines()
                .filter(|l| l.contains("push"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The survivor took every partition.
    assert_eq!(held(&d[1]), Some(6.0));
}

#[test]
fn two_dispatchers_on_one_sqlite_file_are_refused() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cameras.toml"),
        inventory("127.0.0.1:1", 1, |_| String::new()),
    )
    .unwrap();
    let first = xl().start_dispatcher(dir.path(), "one", &broker, "sqlite://dispatcher.db");
    wait_until(
        Duration::from_secs(30),
        || first.edge.log_tail(),
        || metric(&first.edge.metrics(), "xueliang_up") == Some(1.0),
    );
    // A second process with the same data_dir, hence the same SQLite file.
    let config = xl().node_config(dir.path(), "two", &broker, broker::free_port(), "file");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("data_dir = \"data-two\"", "data_dir = \"data-one\"");
    std::fs::write(&config, text).unwrap();
    let out = xueliang()
        .args(["run", "--role", "dispatcher", "--config"])
        .arg(&config)
        .arg("--api-listen")
        .arg(format!("127.0.0.1:{}", broker::free_port()))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("another dispatcher is already using the SQLite database")
            && err.contains("PostgreSQL"),
        "{err}"
    );
    assert!(first.edge.process.is_some());
}

/// One scalar query on the shared database.
fn count(db: &mut postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap().get(0)
}

const UNWATCHED_OPEN: &str =
    "SELECT COUNT(*) FROM incidents WHERE event_type = 'camera_unwatched' AND state <> 'closed'";

/// The cluster of the issue as processes: tansu, PostgreSQL, camsim, three edges and two
/// dispatchers on the shared database. Every camera runs on exactly one edge; an edge killed
/// -9 hands its cameras over within the takeover limit without a "camera unwatched"
/// incident; a dispatcher killed -9 loses and duplicates no alert of the topic and a desk on
/// the other one sees every incident; with every edge gone each camera opens exactly one
/// unwatched incident, and those close themselves once an edge runs the cameras again, as
/// does the video loss of a camera that is repaired.
#[test]
fn the_cluster_watches_every_camera_and_loses_no_alert() {
    // The topology deploy/compose runs, as processes here.
    let topo = xueliang_testkit::compose::topology(&repo());
    assert!(
        topo.edges.len() >= 3 && topo.dispatchers.len() >= 2,
        "{topo:?}"
    );
    let live = topo.cameras;
    assert!(live >= 24, "{topo:?}");
    const DEAD: usize = 2;
    let broker = Broker::start();
    broker.create_topic("xueliang.alerts", topo.partitions);
    let pg = xueliang_testkit::postgres::TempDatabase::create();
    let mut db = postgres::Client::connect(pg.url(), postgres::NoTls).unwrap();
    let (_camsim, addr) = xl().camsim(live + DEAD, "360p");
    let dir = tempfile::tempdir().unwrap();
    // The last DEAD cameras point at a port where nothing listens (video loss) until they are
    // "repaired" by a new inventory.
    let write_inventory = |path: &Path, dead_repaired: bool| {
        let mut text = inventory(&addr, live + DEAD, |_| String::new()).replace(
            "[defaults]\n",
            "[defaults]\nhealth = { video_loss_s = 6 }\n",
        );
        if !dead_repaired {
            for i in live..live + DEAD {
                text = text.replace(
                    &format!("rtsp://{addr}/cam/{i}\""),
                    &format!("rtsp://127.0.0.1:1/cam/{i}\""),
                );
            }
        }
        std::fs::write(path, text).unwrap();
    };
    // What `cameras apply` publishes. The inventory file every process's config names holds
    // one camera only: the dispatchers must learn the others from the topic, as the edges do.
    let inv = dir.path().join("applied.toml");
    write_inventory(&inv, false);
    std::fs::write(
        dir.path().join("cameras.toml"),
        inventory(&addr, 1, |_| String::new()),
    )
    .unwrap();

    // The edges first: dispatchers that started long before them would rightly report every
    // camera unwatched, and this test counts those incidents.
    let admin = xl().node_config(dir.path(), "admin", &broker, 0, "kafka");
    xl().apply(&admin, &inv);
    let mut edges: Vec<Edge> = topo
        .edges
        .iter()
        .map(|name| xl().start_edge(dir.path(), name, &broker, "kafka"))
        .collect();
    // Placed once every edge counts the others: the desk check below compares owners with
    // this placement, and a camera may still move while the edges learn of each other.
    wait_edges_see_each_other(&edges, Duration::from_secs(60));
    let (before, took) = settled(&edges, live, Duration::from_secs(60));
    eprintln!("{live} cameras placed on {} edges in {took:?}", edges.len());

    let mut d: Vec<Dispatcher> = topo
        .dispatchers
        .iter()
        .map(|name| xl().start_dispatcher_with(dir.path(), name, &broker, pg.url(), "kafka"))
        .collect();
    xl().add_centre_user(&dir.path().join(format!("{}.toml", topo.dispatchers[0])));
    wait_partitions_shared(&d.iter().collect::<Vec<_>>(), topo.partitions);
    let token = login(d[1].api_port, "duty", "cluster-test-pw");
    let pushed = watch_events(d[1].api_port, &token);
    let watching_since_us = chrono::Utc::now().timestamp_micros() + 500_000;

    // The desks' camera list holds the topic's cameras (not the file's one) and shows each
    // camera's live state and the edge that runs it.
    wait_until(
        Duration::from_secs(15),
        || format!("{:#?}", desk_cameras(d[1].api_port, &token)),
        || {
            // The edge that streams each camera now, read beside the desk's list.
            let runs = placement(&edges);
            let cams = desk_cameras(d[1].api_port, &token);
            cams.len() == live + DEAD
                && runs.len() == live
                && runs.iter().all(|(id, owners)| {
                    cams.get(id).is_some_and(|c| {
                        owners.len() == 1
                            && c["status"]["node"] == owners[0].as_str()
                            && c["status"]["state"] == "streaming"
                    })
                })
                && (live..live + DEAD).all(|i| {
                    cams.get(&camera_id(i))
                        .is_some_and(|c| c["status"]["state"].as_str() != Some("streaming"))
                })
        },
    );

    // kill -9 of the busiest edge: its cameras stream again on the survivors in time, none
    // twice once settled, and the takeover opens no "camera unwatched" incident.
    let victim = (0..edges.len())
        .max_by_key(|i| before.values().filter(|o| **o == edges[*i].name).count())
        .unwrap();
    edges[victim].kill9();
    let killed_at = Instant::now();
    let (_, took) = settled(&edges, live, TAKEOVER_LIMIT);
    eprintln!("takeover after kill -9 of {}: {took:?}", edges[victim].name);
    std::thread::sleep(Duration::from_secs(3));
    let p = placement(&edges);
    assert!(
        p.len() == live && p.values().all(|v| v.len() == 1),
        "double-analysed once settled: {p:?}"
    );

    // kill -9 of a dispatcher half-way through a burst of alerts.
    produce_alerts(&broker, 120, || d[0].edge.kill9());
    let quiet_until = killed_at + UNWATCHED_AFTER + Duration::from_secs(4);
    std::thread::sleep(quiet_until.saturating_duration_since(Instant::now()));
    assert_eq!(
        count(&mut db, UNWATCHED_OPEN),
        0,
        "a normal takeover opened a camera-unwatched incident\n{}",
        d[1].edge.log_tail()
    );
    d[0] = xl().start_dispatcher_with(dir.path(), &topo.dispatchers[0], &broker, pg.url(), "kafka");
    wait_partitions_shared(&d.iter().collect::<Vec<_>>(), topo.partitions);

    // Reconcile the topic with the store: every alert the topic holds (the test's and the
    // edges' video-loss alerts) stored exactly once, counted once in its incident.
    let on_topic: std::collections::BTreeSet<String> = xueliang_cluster::topics::read_to_end(
        &broker.bootstrap(),
        "xueliang.alerts",
        Duration::from_secs(30),
    )
    .unwrap()
    .into_iter()
    .filter_map(|r| r.value)
    .map(|v| {
        xueliang_core::contract::AlertV1::from_json(&v)
            .unwrap()
            .alert_id
            .to_string()
    })
    .collect();
    assert!(on_topic.len() > 120, "the edges raised no video loss");
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored: Vec<String> = loop {
        let ids: Vec<String> = db
            .query(
                "SELECT alert_id FROM alerts WHERE rule_id <> 'camera-unwatched'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids.len() >= on_topic.len() || Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let stored_set: std::collections::BTreeSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "an alert stored twice");
    let lost: Vec<_> = on_topic.difference(&stored_set).collect();
    assert!(lost.is_empty(), "{} alerts lost: {lost:?}", lost.len());
    assert_eq!(
        count(
            &mut db,
            "SELECT COALESCE(SUM(alert_count), 0)::BIGINT FROM incidents"
        ) as usize,
        count(&mut db, "SELECT COUNT(*) FROM alerts") as usize,
        "an alert counted twice in its incident"
    );

    // Every edge gone: each camera opens exactly one unwatched incident (both dispatchers
    // judge), routed like every camera fault.
    for e in edges.iter_mut().filter(|e| e.process.is_some()) {
        e.kill9();
    }
    wait_until(
        UNWATCHED_AFTER + Duration::from_secs(20),
        || {
            format!(
                "unwatched incidents: {}\n{}",
                count(
                    &mut postgres::Client::connect(pg.url(), postgres::NoTls).unwrap(),
                    UNWATCHED_OPEN
                ),
                d[1].edge.log_tail()
            )
        },
        || count(&mut db, UNWATCHED_OPEN) as usize == live + DEAD,
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        count(
            &mut db,
            "SELECT COUNT(*) FROM incidents WHERE event_type = 'camera_unwatched'"
        ) as usize,
        live + DEAD,
        "one unwatched incident per camera, whichever dispatcher judged"
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT COUNT(*) FROM alerts WHERE rule_id = 'camera-unwatched'"
        ) as usize,
        live + DEAD
    );

    // The desk on the surviving dispatcher saw every incident, whichever dispatcher made it.
    let incidents: Vec<String> = db
        .query(
            "SELECT incident_id FROM incidents WHERE created_at > $1",
            &[&watching_since_us],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    wait_until(
        Duration::from_secs(10),
        || "an incident was never pushed to the desk on the surviving dispatcher".into(),
        || {
            let seen: std::collections::BTreeSet<String> =
                pushed.lock().unwrap().iter().cloned().collect();
            incidents.iter().all(|i| seen.contains(i))
        },
    );

    // An edge runs the cameras again: every unwatched incident closes itself, audited.
    edges[0] = xl().start_edge(dir.path(), &topo.edges[0], &broker, "kafka");
    settled(&edges, live, Duration::from_secs(60));
    wait_until(
        Duration::from_secs(20),
        || {
            format!(
                "{} unwatched incidents still open",
                count(
                    &mut postgres::Client::connect(pg.url(), postgres::NoTls).unwrap(),
                    UNWATCHED_OPEN
                )
            )
        },
        || count(&mut db, UNWATCHED_OPEN) == 0,
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT COUNT(*) FROM incidents WHERE event_type = 'camera_unwatched' \
             AND disposition = 'resolved'"
        ) as usize,
        live + DEAD
    );
    let audited = count(
        &mut db,
        &format!(
            "SELECT COUNT(*) FROM audit h JOIN incidents i ON i.incident_id = h.incident_id \
             WHERE i.event_type = 'camera_unwatched' AND h.actor = 'system' \
             AND h.action = 'closed' AND h.note LIKE '%camera recovered: % on {} %'",
            topo.edges[0]
        ),
    );
    assert_eq!(
        audited as usize,
        live + DEAD,
        "each close audited with its proof"
    );

    // The dead cameras are repaired: their video-loss incidents close themselves.
    let open_loss = "SELECT COUNT(*) FROM incidents WHERE event_type = 'video_loss' \
                     AND state <> 'closed'";
    assert_eq!(
        count(&mut db, open_loss) as usize,
        DEAD,
        "the dead cameras' video loss"
    );
    write_inventory(&inv, true);
    xl().apply(&admin, &inv);
    wait_until(
        Duration::from_secs(30),
        || {
            format!(
                "{} video-loss incidents still open",
                count(
                    &mut postgres::Client::connect(pg.url(), postgres::NoTls).unwrap(),
                    open_loss
                )
            )
        },
        || count(&mut db, open_loss) == 0,
    );
}
