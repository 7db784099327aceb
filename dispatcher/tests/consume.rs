//! The Kafka consumer against a real broker (tansu): every alert persisted once and routed,
//! malformed messages dead-lettered while good ones keep flowing.

mod support;

use std::collections::HashSet;
use std::time::Duration;
use support::broker::Broker;
use support::*;
use xueliang_core::DeskId;
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::consume::{H_ERROR, H_OFFSET, H_PARTITION, H_REASON, H_TOPIC};
use xueliang_dispatcher::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_is_persisted_once_and_routed() {
    let dep = deployment();
    let broker = Broker::start();
    let (t, dlq) = (topic("alerts"), topic("dlq"));
    broker.create_topic(&t, 3);
    broker.create_topic(&dlq, 1);
    let sent = alerts(&dep, 500);
    publish(&producer(&broker), &t, &sent);

    let dir = scratch();
    let store = open_store(&db_path(dir.path()));
    let (k, d) = configs(&dep, &broker, &t, &dlq, "dispatcher-a");
    let shutdown = Shutdown::new();
    let h = start_consumer(
        &dep,
        &k,
        &d,
        store.clone(),
        test_options(100),
        shutdown.clone(),
    );
    // Throughput is printed, not asserted (no timed assertions in tests): from the first
    // persisted alert (the group join excluded) to the last.
    wait_count(store.as_ref(), 1, Duration::from_secs(90), &broker).await;
    let t0 = std::time::Instant::now();
    wait_count(store.as_ref(), 500, Duration::from_secs(90), &broker).await;
    eprintln!(
        "persisted 500 alerts in {:?} ({:.0}/s, debug build, synchronous=FULL)",
        t0.elapsed(),
        500.0 / t0.elapsed().as_secs_f64()
    );
    assert!(h.assigned_partitions() <= 3);
    shutdown.trigger();
    h.join().await.unwrap();

    assert_eq!(store.alert_count().await.unwrap(), 500);
    let mut desks = HashSet::new();
    for a in &sent {
        let got = store
            .get_alert(a.alert_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("alert {} not persisted", a.alert_id));
        assert_eq!(&got.alert, a);
        let want = dep.router.route(a, dep.inventory.camera(&a.camera_id));
        assert_eq!(got.desk_id, want.primary, "alert {a:?}");
        desks.insert(got.desk_id.clone());
        // deploy/single-node: camera faults go to video maintenance.
        if a.event_type.is_camera_fault() {
            assert_eq!(got.desk_id.as_str(), "video-ops");
        }
    }
    // The deployment's four desks all received something.
    for want in ["futian-centre", "futian-ps", "xiangmihu-ps", "video-ops"] {
        let desk = DeskId::new(want).unwrap();
        assert!(
            !store.alerts_for_desk(&desk, 1).await.unwrap().is_empty(),
            "{want} got nothing; desks with primaries: {desks:?}"
        );
    }
    assert!(read_topic(&broker, &dlq, 1, Duration::from_secs(2)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_go_to_the_dlq_and_good_ones_keep_flowing() {
    let dep = deployment();
    let broker = Broker::start();
    let (t, dlq) = (topic("alerts"), topic("dlq"));
    // One partition: the bad messages sit between good ones in the same partition.
    broker.create_topic(&t, 1);
    broker.create_topic(&dlq, 1);
    let good = alerts(&dep, 60);
    // A newer analyzer's v1 alert with optional fields this build does not know: accepted,
    // and stored as received.
    let mut newer = serde_json::to_value(&good[7]).unwrap();
    newer["gpu_latency_ms"] = 3.5.into();
    let newer = serde_json::to_vec(&newer).unwrap();
    let mut v2 = serde_json::to_value(&good[0]).unwrap();
    v2["schema_version"] = 2.into();
    v2["alert_id"] = uuid::Uuid::now_v7().to_string().into();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("json", b"{not json".to_vec()),
        ("schema_version", serde_json::to_vec(&v2).unwrap()),
        ("empty", Vec::new()),
    ];
    let mut msgs = Vec::new();
    for (i, a) in good.iter().enumerate() {
        let value = if i == 7 { newer.clone() } else { a.to_json() };
        msgs.push((a.camera_id.to_string(), value));
        if i % 20 == 5 {
            let (_, v) = &bad[i / 20];
            msgs.push(("cam-bad".to_owned(), v.clone()));
        }
    }
    publish_raw(&producer(&broker), &t, &msgs);

    let dir = scratch();
    let store = open_store(&db_path(dir.path()));
    let (k, d) = configs(&dep, &broker, &t, &dlq, "dispatcher-b");
    let shutdown = Shutdown::new();
    let h = start_consumer(
        &dep,
        &k,
        &d,
        store.clone(),
        test_options(7),
        shutdown.clone(),
    );
    wait_count(store.as_ref(), 60, Duration::from_secs(90), &broker).await;
    let dead = read_topic(&broker, &dlq, 3, Duration::from_secs(30));
    shutdown.trigger();
    h.join().await.unwrap();

    assert_eq!(store.alert_count().await.unwrap(), 60);
    for a in &good {
        assert!(store.get_alert(a.alert_id).await.unwrap().is_some());
    }
    assert_eq!(dead.len(), 3, "{dead:?}");
    for (m, (reason, payload)) in dead.iter().zip(&bad) {
        assert_eq!(&m.payload, payload, "the DLQ keeps the bytes as received");
        assert_eq!(m.header(H_REASON), Some(*reason));
        assert!(!m.header(H_ERROR).unwrap_or_default().is_empty());
        assert_eq!(m.header(H_TOPIC), Some(t.as_str()));
        assert_eq!(m.header(H_PARTITION), Some("0"));
        assert!(m.header(H_OFFSET).unwrap().parse::<i64>().is_ok());
    }
    assert!(
        dead[0].header(H_ERROR).unwrap().contains("JSON"),
        "{:?}",
        dead[0]
    );
    assert!(
        dead[1]
            .header(H_ERROR)
            .unwrap()
            .contains("upgrade the dispatchers"),
        "{:?}",
        dead[1]
    );
    let db = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    let stored: String = db
        .query_row(
            "SELECT json FROM alerts WHERE alert_id = ?1",
            [good[7].alert_id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        stored.contains("\"gpu_latency_ms\":3.5"),
        "the unknown field is kept: {stored}"
    );
}

/// With no partition held for `dispatcher.no_partitions_alert` (here: the broker is
/// unreachable), the consumer raises the operator alert; a healthy consumer does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_no_partitions_raises_the_operator_alert() {
    let dep = deployment();
    let broker = Broker::start();
    let (t, dlq) = (topic("alerts"), topic("dlq"));
    broker.create_topic(&t, 1);
    broker.create_topic(&dlq, 1);
    let dir = scratch();
    let shutdown = Shutdown::new();

    let (k, mut d) = configs(&dep, &broker, &t, &dlq, "dispatcher-healthy");
    d.no_partitions_alert = Duration::from_secs(2);
    let healthy = start_consumer(
        &dep,
        &k,
        &d,
        open_store(&db_path(dir.path())),
        test_options(10),
        shutdown.clone(),
    );

    let mut k_dead = k.clone();
    k_dead.brokers = format!("127.0.0.1:{}", support::broker::free_port());
    let (_, mut d_dead) = configs(&dep, &broker, &t, &dlq, "dispatcher-cut-off");
    d_dead.no_partitions_alert = Duration::from_secs(2);
    let cut_off = start_consumer(
        &dep,
        &k_dead,
        &d_dead,
        open_store(&dir.path().join("cut-off.db")),
        test_options(10),
        shutdown.clone(),
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !(cut_off.no_partitions_alert() && healthy.assigned_partitions() > 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "cut-off alerted: {}, healthy holds {} partitions\n{}",
            cut_off.no_partitions_alert(),
            healthy.assigned_partitions(),
            broker.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The healthy consumer holds its partition: no alert.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!healthy.no_partitions_alert());
    assert!(cut_off.no_partitions_alert());
    shutdown.trigger();
    healthy.join().await.unwrap();
    cut_off.join().await.unwrap();
}

/// A record the broker accepts and never serves (about 5 MiB on tansu 0.6.0) stops its
/// partition silently: the stall watch names topic, partition and offset within
/// `dispatcher.stall_alert_s`, while the alerts before it were stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_stuck_behind_an_unservable_record_raises_the_stall_alert() {
    let dep = deployment();
    let broker = Broker::start();
    let (t, dlq) = (topic("alerts"), topic("dlq"));
    broker.create_topic(&t, 1);
    broker.create_topic(&dlq, 1);
    let good = alerts(&dep, 10);
    let mut msgs: Vec<(String, Vec<u8>)> = good[..5]
        .iter()
        .map(|a| (a.camera_id.to_string(), a.to_json()))
        .collect();
    msgs.push(("cam-huge".into(), vec![b'x'; 5_300_000]));
    msgs.extend(
        good[5..]
            .iter()
            .map(|a| (a.camera_id.to_string(), a.to_json())),
    );
    let big: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("acks", "all")
        .set("message.max.bytes", "10000000")
        .create()
        .unwrap();
    publish_raw(&big, &t, &msgs);

    let dir = scratch();
    let store = open_store(&db_path(dir.path()));
    let (k, mut d) = configs(&dep, &broker, &t, &dlq, "dispatcher-stall");
    d.stall_alert = Duration::from_secs(3);
    let shutdown = Shutdown::new();
    let h = start_consumer(
        &dep,
        &k,
        &d,
        store.clone(),
        test_options(7),
        shutdown.clone(),
    );
    wait_count(store.as_ref(), 5, Duration::from_secs(60), &broker).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while h.stalled_partitions().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no stall alert; stored {}",
            store.alert_count().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        h.stalled_partitions(),
        [(0, 5)],
        "partition 0 waits at offset 5"
    );
    assert_eq!(
        store.alert_count().await.unwrap(),
        5,
        "nothing past the stuck record"
    );
    shutdown.trigger();
    h.join().await.unwrap();
}
