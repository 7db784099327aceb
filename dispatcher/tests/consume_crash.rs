//! kill -9 the dispatcher mid-stream and restart it: no alert lost, none duplicated.
//!
//! The dispatcher being killed is a child process: the test-tooling binary
//! `xueliang-crash-child` (`src/bin/xueliang-crash-child.rs`), which consumes until killed.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::broker::Broker;
use support::*;
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::store::Store;

const N: usize = 1500;
const INSTANCE: &str = "dispatcher-crash";

/// Starts the child dispatcher: the same deployment, topics, group and static member id as
/// `kafka` and `disp`, storing into `db`. Small batches: many commits, so the kill lands
/// between some of them. Its standard input stays open while the returned `Child` lives; the
/// child exits when it closes, so a failing test does not leave it running.
fn start_child(
    kafka: &xueliang_core::config::KafkaConfig,
    disp: &xueliang_core::config::DispatcherConfig,
    db: &Path,
) -> std::process::Child {
    let opts = test_options(5);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xueliang-crash-child"));
    cmd.arg("--deployment")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/single-node"))
        .arg("--db")
        .arg(db)
        .args(["--brokers", &kafka.brokers])
        .args(["--alerts-topic", &kafka.alerts_topic])
        .args(["--dlq-topic", &kafka.dlq_topic])
        .args(["--group-id", &disp.group_id])
        .args(["--instance-id", &disp.instance_id])
        .args(["--batch-max", &opts.batch_max.to_string()])
        .args([
            "--batch-linger-ms",
            &opts.batch_linger.as_millis().to_string(),
        ]);
    for (k, v) in &opts.librdkafka {
        cmd.args(["--librdkafka", &format!("{k}={v}")]);
    }
    cmd.stdin(Stdio::piped())
        .spawn()
        .expect("start the child dispatcher (xueliang-crash-child)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing() {
    let dep = deployment();
    let broker = Broker::start();
    let (t, dlq) = (topic("alerts"), topic("dlq"));
    broker.create_topic(&t, 3);
    broker.create_topic(&dlq, 1);
    let sent = alerts(&dep, N);
    publish(&producer(&broker), &t, &sent);

    let dir = scratch();
    let db = db_path(dir.path());
    let store = open_store(&db);
    // The child and, after the kill, its replacement: same group, same instance id (static
    // membership).
    let (k, d) = configs(&dep, &broker, &t, &dlq, INSTANCE);
    let mut child = start_child(&k, &d, &db);
    let deadline = Instant::now() + Duration::from_secs(90);
    let at_kill = loop {
        let c = store.alert_count().await.unwrap();
        if c >= 100 {
            break c;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("child dispatcher exited early: {st}");
        }
        assert!(
            Instant::now() < deadline,
            "child persisted only {c}\n{}",
            broker.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    child.kill().expect("kill -9 the child"); // SIGKILL
    child.wait().unwrap();
    let after_kill = store.alert_count().await.unwrap();
    eprintln!("child killed with {after_kill} of {N} persisted");
    assert!(
        (after_kill as usize) < N,
        "the child finished before it was killed ({at_kill} at kill); the test proves nothing"
    );

    // Restart: it resumes at the offsets stored with the last committed batch.
    let shutdown = Shutdown::new();
    let h = start_consumer(
        &dep,
        &k,
        &d,
        store.clone(),
        test_options(100),
        shutdown.clone(),
    );
    wait_count(store.as_ref(), N as u64, Duration::from_secs(120), &broker).await;
    shutdown.trigger();
    h.join().await.unwrap();

    assert_eq!(
        store.alert_count().await.unwrap(),
        N as u64,
        "none duplicated"
    );
    for a in &sent {
        assert!(
            store.get_alert(a.alert_id).await.unwrap().is_some(),
            "alert {} lost",
            a.alert_id
        );
    }
    // Incidents were written in the same transactions: every alert counted exactly once.
    let incidents = store
        .list_incidents(xueliang_dispatcher::store::IncidentFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    let counted: u64 = incidents.iter().map(|i| i.alert_count as u64).sum();
    assert_eq!(counted, N as u64, "incident alert counts after the crash");
    for a in &sent {
        let got = store.get_alert(a.alert_id).await.unwrap().unwrap();
        assert!(
            got.incident_id.is_some(),
            "alert {} outside any incident",
            a.alert_id
        );
    }
}
