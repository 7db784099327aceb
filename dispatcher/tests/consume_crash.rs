//! kill -9 the dispatcher mid-stream and restart it: no alert lost, none duplicated.
//!
//! The dispatcher being killed is this test binary itself, re-run as a child with
//! `XL_CRASH_CHILD` set so that only `crash_child` runs (and consumes until killed).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::broker::Broker;
use support::*;
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::store::Store;

const N: usize = 1500;
const INSTANCE: &str = "dispatcher-crash";

/// Runs only as the child: consume into the given database until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(spec) = std::env::var("XL_CRASH_CHILD") else {
        return;
    };
    let p: Vec<&str> = spec.split('|').collect();
    let dep = deployment();
    let mut k = dep.node.kafka.clone();
    k.brokers = p[0].to_owned();
    k.alerts_topic = p[1].to_owned();
    k.dlq_topic = p[2].to_owned();
    let mut d = dep.node.dispatcher.clone();
    d.group_id = format!("dispatcher-{}", p[1]);
    d.instance_id = INSTANCE.to_owned();
    let store = open_store(std::path::Path::new(p[3]));
    // Small batches: many commits, so the kill lands between some of them.
    let _h = start_consumer(&dep, &k, &d, store, test_options(5), Shutdown::new());
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing() {
    if std::env::var_os("XL_CRASH_CHILD").is_some() {
        return;
    }
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
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(
            "XL_CRASH_CHILD",
            format!("{}|{t}|{dlq}|{}", broker.bootstrap(), db.display()),
        )
        .stdin(Stdio::null())
        .spawn()
        .expect("start the child dispatcher");
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

    // Restart with the same group and instance id (static membership).
    let (k, mut d) = configs(&dep, &broker, &t, &dlq, INSTANCE);
    d.group_id = format!("dispatcher-{t}");
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
