//! Publish throughput to a local tansu (SQLite storage), through the whole path: channel,
//! spool append + fsync, idempotent acks=all produce, commit. Not a test (no timing
//! assertions); run with
//! `cargo test --release -p xueliang-analyzer --test publish_bench -- --ignored --nocapture`.

mod support {
    pub use xueliang_testkit::broker;
    pub mod publish;
}

use std::time::{Duration, Instant};
use support::broker::Broker;
use support::publish::*;
use xueliang_analyzer::publish::AlertPublisher;
use xueliang_core::shutdown::Shutdown;

async fn run(label: &str, n: usize, pad: usize) {
    let broker = Broker::start();
    let topic = random_topic();
    let kafka = kafka_config(&broker.bootstrap(), &topic, 6);
    let spool_dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let publisher = AlertPublisher::start(
        &kafka,
        options(spool_dir.path(), 512 << 20),
        shutdown.clone(),
    )
    .unwrap();
    let sender = publisher.sender();
    let health = publisher.health();
    // Warm up: topic created, producer id assigned.
    sender
        .send(test_alert(CAMERAS[0], 0, pad, None))
        .await
        .unwrap();
    wait_until("warm-up", Duration::from_secs(30), || {
        health.published_total() == 1
    })
    .await;

    let alerts: Vec<_> = (1..=n)
        .map(|i| test_alert(CAMERAS[i % CAMERAS.len()], i, pad, None))
        .collect();
    let bytes = alerts[0].to_json().len();
    let t0 = Instant::now();
    for a in alerts {
        sender.send(a).await.unwrap();
    }
    let queued = t0.elapsed();
    wait_until("all acknowledged", Duration::from_secs(300), || {
        health.published_total() == n as u64 + 1
    })
    .await;
    let total = t0.elapsed();
    println!(
        "{label}: {n} alerts of {bytes} B: {:.0} alerts/s ({:.1} MB/s) end to end \
         (all handed over after {:.2} s, all acknowledged after {:.2} s)",
        n as f64 / total.as_secs_f64(),
        (n * bytes) as f64 / total.as_secs_f64() / 1e6,
        queued.as_secs_f64(),
        total.as_secs_f64()
    );
    drop(sender);
    shutdown.trigger();
    publisher.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly"]
async fn publish_throughput_to_tansu() {
    init_logs();
    run("2 KB", 20_000, 1_700).await;
    run("50 KB", 2_000, 50_000).await;
}
