//! The alert publisher against a real Kafka-protocol broker (tansu, started by xueliang-testkit):
//! delivery with keys and per-camera order, broker outage and restart, process restart.
//! Each test has its own broker process, port and topic.

mod support {
    pub use xueliang_testkit::broker;
    pub mod publish;
}

use std::time::Duration;
use support::broker::Broker;
use support::publish::*;
use xueliang_analyzer::publish::{AlertPublisher, SendError, Spool};
use xueliang_core::shutdown::Shutdown;

/// (a) N alerts → N valid Alert v1 with key = camera id, per-camera order kept, snapshot
/// decodes; the publisher created the topic with the configured partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_keyed_ordered_alerts_with_snapshots() {
    init_logs();
    let broker = Broker::start();
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 3);
    let spool_dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let publisher = AlertPublisher::start(
        &kafka,
        options(spool_dir.path(), 64 << 20),
        shutdown.clone(),
    )
    .unwrap();
    let jpeg = test_snapshot(1280, 720);
    let sender = publisher.sender();
    const N: usize = 60;
    let mut sent = Vec::new();
    for i in 0..N {
        let camera = CAMERAS[i % CAMERAS.len()];
        let alert = test_alert(camera, i, 0, Some(&jpeg));
        sent.push((camera.to_string(), alert.alert_id));
        sender.send(alert).await.unwrap();
    }
    let health = publisher.health();
    wait_until("all alerts acknowledged", Duration::from_secs(60), || {
        health.published_total() == N as u64
    })
    .await;
    assert_eq!(
        health.spool_records(),
        0,
        "acknowledged alerts leave the spool"
    );

    let got = consume_blocking(&broker.bootstrap(), &topic, N, Duration::from_secs(30)).await;
    let report = assert_delivered(&sent, &got.messages);
    assert_eq!(
        report.duplicates, 0,
        "idempotent producer, no outage: no duplicates"
    );
    assert_eq!(got.partitions, 3, "topic created with kafka.partitions");
    for (_, alert) in &got.messages {
        let img = decode_snapshot(alert);
        assert_eq!((img.width(), img.height()), (960, 540));
        assert!(alert.published_at >= alert.captured_at);
    }

    drop(sender);
    shutdown.trigger();
    let r = publisher.join().await;
    assert_eq!(r.delivered, N as u64);
    assert_eq!(r.left_in_spool, 0);
}

/// (b) The test: with the broker stopped, alerts spool and arrive after it restarts —
/// all of them, in order per camera; duplicates, if any, share the alert id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_spool_while_broker_is_down_and_arrive_after_restart() {
    init_logs();
    let mut broker = Broker::start();
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 3);
    let spool_dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let publisher = AlertPublisher::start(
        &kafka,
        options(spool_dir.path(), 64 << 20),
        shutdown.clone(),
    )
    .unwrap();
    let sender = publisher.sender();
    let health = publisher.health();
    let mut sent = Vec::new();

    // Warm up: the producer has a connection and a producer id before the outage.
    for i in 0..6 {
        let camera = CAMERAS[i % CAMERAS.len()];
        let a = test_alert(camera, i, 2_000, None);
        sent.push((camera.to_string(), a.alert_id));
        sender.send(a).await.unwrap();
    }
    wait_until(
        "warm-up alerts acknowledged",
        Duration::from_secs(60),
        || health.published_total() == 6,
    )
    .await;

    tokio::task::block_in_place(|| broker.stop());
    const M: usize = 30;
    for i in 6..6 + M {
        let camera = CAMERAS[i % CAMERAS.len()];
        let a = test_alert(camera, i, 2_000, None);
        sent.push((camera.to_string(), a.alert_id));
        sender.send(a).await.unwrap();
    }
    wait_until("alerts spooled", Duration::from_secs(10), || {
        health.spool_records() == M as u64
    })
    .await;
    // They stay there while the broker is down: nothing is acknowledged, nothing dropped.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(health.spool_records(), M as u64);
    assert_eq!(health.published_total(), 6);

    tokio::task::block_in_place(|| broker.restart());
    wait_until("spooled alerts delivered", Duration::from_secs(60), || {
        health.spool_records() == 0
    })
    .await;

    let got = consume_blocking(
        &broker.bootstrap(),
        &topic,
        sent.len(),
        Duration::from_secs(30),
    )
    .await;
    let report = assert_delivered(&sent, &got.messages);
    eprintln!(
        "broker restart: {} alerts sent, {} messages read, {} duplicates",
        sent.len(),
        got.messages.len(),
        report.duplicates
    );

    drop(sender);
    shutdown.trigger();
    let r = publisher.join().await;
    assert_eq!(r.left_in_spool, 0);
}

/// (b, harder) The broker is killed (SIGKILL) while alerts stream in and are in flight, and
/// comes back a second later: nothing is lost and each camera's alerts stay in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_crash_mid_stream_loses_nothing() {
    init_logs();
    let mut broker = Broker::start();
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 3);
    let spool_dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let publisher = AlertPublisher::start(
        &kafka,
        options(spool_dir.path(), 64 << 20),
        shutdown.clone(),
    )
    .unwrap();
    let sender = publisher.sender();
    let health = publisher.health();

    const TOTAL: usize = 300;
    let alerts: Vec<_> = (0..TOTAL)
        .map(|i| test_alert(CAMERAS[i % CAMERAS.len()], i, 2_000, None))
        .collect();
    let sent: Vec<_> = alerts
        .iter()
        .map(|a| (a.camera_id.to_string(), a.alert_id))
        .collect();
    let stream = tokio::spawn(async move {
        for a in alerts {
            sender.send(a).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    wait_until("some alerts acknowledged", Duration::from_secs(30), || {
        health.published_total() >= 50
    })
    .await;
    tokio::task::block_in_place(|| broker.kill());
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| broker.restart());
    stream.await.unwrap();
    wait_until("spool drained", Duration::from_secs(60), || {
        health.spool_records() == 0
    })
    .await;

    let got = consume_blocking(&broker.bootstrap(), &topic, TOTAL, Duration::from_secs(30)).await;
    let report = assert_delivered(&sent, &got.messages);
    eprintln!(
        "broker crash: {TOTAL} alerts sent, {} messages read, {} duplicates",
        got.messages.len(),
        report.duplicates
    );
    shutdown.trigger();
    let r = publisher.join().await;
    assert_eq!(r.left_in_spool, 0);
}

/// The analyzer starts before Kafka: topic creation keeps retrying past the admin timeout
/// (5 s) and the spooled alert goes out once the broker is up. (Regression: an admin timeout
/// was taken for a refusal and the topic was never created.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_that_comes_up_after_the_analyzer_gets_the_topic_and_the_alerts() {
    init_logs();
    let mut broker = Broker::start();
    tokio::task::block_in_place(|| broker.stop());
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 2);
    let spool_dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let publisher =
        AlertPublisher::start(&kafka, options(spool_dir.path(), 1 << 20), shutdown.clone())
            .unwrap();
    let alert = test_alert(CAMERAS[0], 0, 100, None);
    let sent = vec![(CAMERAS[0].to_string(), alert.alert_id)];
    publisher.sender().send(alert).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    tokio::task::block_in_place(|| broker.restart());
    let health = publisher.health();
    wait_until("alert delivered", Duration::from_secs(30), || {
        health.published_total() == 1
    })
    .await;
    let got = consume_blocking(&broker.bootstrap(), &topic, 1, Duration::from_secs(30)).await;
    assert_eq!(got.partitions, 2);
    assert_delivered(&sent, &got.messages);
    shutdown.trigger();
    publisher.join().await;
}

/// Shutdown while the spool is full and a sender is blocked: what was accepted is kept (the
/// queued alerts go to the spool past its bound), the blocked alert is handed back to its
/// sender as an error, and the next run delivers everything that was accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_full_spool_keeps_every_accepted_alert() {
    init_logs();
    let mut broker = Broker::start();
    tokio::task::block_in_place(|| broker.stop());
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 3);
    let spool_dir = tempfile::tempdir().unwrap();
    let alerts: Vec<_> = (0..20)
        .map(|i| test_alert(CAMERAS[i % CAMERAS.len()], i, 2_000, None))
        .collect();
    let one = Spool::record_len(CAMERAS[0].as_bytes(), &alerts[0].to_json());
    let mut opts = options(spool_dir.path(), 5 * one + one / 2);
    opts.queue_capacity = 2;
    opts.drain_timeout = Duration::from_millis(300);

    let shutdown = Shutdown::new();
    let publisher = AlertPublisher::start(&kafka, opts.clone(), shutdown.clone()).unwrap();
    let health = publisher.health();
    let sender = publisher.sender();
    let task = tokio::spawn(async move {
        let mut accepted = Vec::new();
        for a in alerts {
            let id = (a.camera_id.to_string(), a.alert_id);
            match sender.send(a).await {
                Ok(()) => accepted.push(id),
                Err(SendError::Closed(back)) => {
                    assert_eq!(back.alert_id, id.1, "the refused alert is handed back");
                    return (accepted, Some(id));
                }
                Err(e) => panic!("{e}"),
            }
        }
        (accepted, None)
    });
    wait_until("spool full", Duration::from_secs(10), || {
        health.spool_full()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.trigger();
    let report = publisher.join().await;
    let (accepted, refused) = task.await.unwrap();
    assert!(
        refused.is_some(),
        "the blocked sender was released with its alert"
    );
    assert_eq!(report.lost_at_shutdown, 0);
    assert_eq!(report.left_in_spool, accepted.len() as u64);
    assert!(
        accepted.len() > 5,
        "queued alerts were spooled past the bound"
    );

    tokio::task::block_in_place(|| broker.restart());
    let shutdown = Shutdown::new();
    opts.spool_max_bytes = 64 << 20;
    let publisher = AlertPublisher::start(&kafka, opts, shutdown.clone()).unwrap();
    let health = publisher.health();
    wait_until("accepted alerts delivered", Duration::from_secs(60), || {
        health.published_total() == accepted.len() as u64
    })
    .await;
    let got = consume_blocking(
        &broker.bootstrap(),
        &topic,
        accepted.len(),
        Duration::from_secs(30),
    )
    .await;
    assert_delivered(&accepted, &got.messages);
    shutdown.trigger();
    publisher.join().await;
}

/// (d) Alerts left in the spool by a previous run (broker down at shutdown) are sent by the
/// next run, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_from_a_previous_run_is_replayed() {
    init_logs();
    let mut broker = Broker::start();
    tokio::task::block_in_place(|| broker.stop());
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 3);
    let spool_dir = tempfile::tempdir().unwrap();
    let mut opts = options(spool_dir.path(), 64 << 20);
    opts.drain_timeout = Duration::from_millis(500);

    // First run: the broker is down the whole time.
    const K: usize = 15;
    let mut sent = Vec::new();
    {
        let shutdown = Shutdown::new();
        let publisher = AlertPublisher::start(&kafka, opts.clone(), shutdown.clone()).unwrap();
        let sender = publisher.sender();
        for i in 0..K {
            let camera = CAMERAS[i % CAMERAS.len()];
            let a = test_alert(camera, i, 1_000, None);
            sent.push((camera.to_string(), a.alert_id));
            sender.send(a).await.unwrap();
        }
        drop(sender);
        shutdown.trigger();
        let r = publisher.join().await;
        assert_eq!(r.delivered, 0);
        assert_eq!(r.left_in_spool, K as u64);
        assert_eq!(r.lost_at_shutdown, 0);
    }
    // What a new process finds on disk.
    {
        let (spool, damaged) = Spool::open(&spool_dir.path().join("spool"), 64 << 20).unwrap();
        assert_eq!(damaged, 0);
        assert_eq!(spool.stats().records, K as u64);
    }

    // Second run, broker back.
    tokio::task::block_in_place(|| broker.restart());
    let shutdown = Shutdown::new();
    let publisher = AlertPublisher::start(&kafka, opts, shutdown.clone()).unwrap();
    let health = publisher.health();
    wait_until("replayed alerts delivered", Duration::from_secs(60), || {
        health.published_total() == K as u64
    })
    .await;
    let got = consume_blocking(&broker.bootstrap(), &topic, K, Duration::from_secs(30)).await;
    let report = assert_delivered(&sent, &got.messages);
    assert_eq!(report.duplicates, 0);
    shutdown.trigger();
    let r = publisher.join().await;
    assert_eq!(r.delivered, K as u64);
    assert_eq!(r.left_in_spool, 0);
}
