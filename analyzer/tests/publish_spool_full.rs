//! (c) A full spool is an operator alert and backpressure, never a silent drop.
//!
//! Its own test binary: it installs the process-wide Prometheus recorder to read
//! `xueliang_spool_full`, which other publishers in the same process would also write.

mod support {
    pub use xueliang_testkit::broker;
    pub mod publish;
}

use metrics_exporter_prometheus::PrometheusBuilder;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::broker::Broker;
use support::publish::*;
use xueliang_analyzer::publish::{AlertPublisher, Spool};
use xueliang_core::shutdown::Shutdown;

fn gauge(rendered: &str, name: &str) -> Option<f64> {
    rendered
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_spool_raises_the_operator_signal_and_blocks_instead_of_dropping() {
    init_logs();
    let prom = PrometheusBuilder::new()
        .install_recorder()
        .expect("install the Prometheus recorder");
    let mut broker = Broker::start();
    tokio::task::block_in_place(|| broker.stop());
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 3);
    let spool_dir = tempfile::tempdir().unwrap();

    const TOTAL: usize = 20;
    const FITS: u64 = 8;
    let alerts: Vec<_> = (0..TOTAL)
        .map(|i| test_alert(CAMERAS[i % CAMERAS.len()], i, 2_000, None))
        .collect();
    let sent: Vec<_> = alerts
        .iter()
        .map(|a| (a.camera_id.to_string(), a.alert_id))
        .collect();
    // Room for FITS records and half of another (timestamps vary the size by a few bytes).
    let one = Spool::record_len(CAMERAS[0].as_bytes(), &alerts[0].to_json());
    let mut opts = options(spool_dir.path(), FITS * one + one / 2);
    opts.queue_capacity = 2;
    let shutdown = Shutdown::new();
    let publisher = AlertPublisher::start(&kafka, opts, shutdown.clone()).unwrap();
    let health = publisher.health();
    let sender = publisher.sender();

    let accepted = Arc::new(AtomicUsize::new(0));
    let task = {
        let accepted = accepted.clone();
        tokio::spawn(async move {
            for a in alerts {
                sender
                    .send(a)
                    .await
                    .expect("the publisher takes every alert");
                accepted.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    wait_until("the spool to fill", Duration::from_secs(10), || {
        health.spool_full()
    })
    .await;
    // The operator signal: health flag and metric (the ERROR log line is in the output).
    assert!(!health.healthy());
    assert_eq!(
        gauge(&prom.render(), "xueliang_spool_full"),
        Some(1.0),
        "metrics:\n{}",
        prom.render()
    );

    // Backpressure: the sender is blocked, not failing and not dropping.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stuck_at = accepted.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        stuck_at,
        "sender kept going"
    );
    assert!(stuck_at < TOTAL, "everything was accepted by a full spool");
    assert!(!task.is_finished());
    assert_eq!(health.spool_records(), FITS);
    // Spool + the held alert + the channel: nothing more has been taken.
    assert!(
        stuck_at as u64 <= FITS + 1 + 2,
        "{stuck_at} accepted with {FITS} spooled"
    );

    // The broker returns: the spool drains, the sender resumes, every alert arrives in order.
    tokio::task::block_in_place(|| broker.restart());
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("sender resumed once the spool drained")
        .unwrap();
    wait_until("all alerts acknowledged", Duration::from_secs(60), || {
        health.published_total() == TOTAL as u64
    })
    .await;
    assert!(!health.spool_full());
    assert!(health.healthy());
    assert_eq!(gauge(&prom.render(), "xueliang_spool_full"), Some(0.0));

    let got = consume_blocking(&broker.bootstrap(), &topic, TOTAL, Duration::from_secs(30)).await;
    let report = assert_delivered(&sent, &got.messages);
    assert_eq!(report.duplicates, 0);

    shutdown.trigger();
    let r = publisher.join().await;
    assert_eq!(r.left_in_spool, 0);
    assert_eq!(r.lost_at_shutdown, 0);
}
