//! Redelivery is harmless: the same alert twice is stored once and counted as a duplicate.

mod support;

use metrics_exporter_prometheus::PrometheusBuilder;
use std::time::Duration;
use support::broker::Broker;
use support::*;
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::consume::{DUPLICATES_TOTAL, PERSISTED_TOTAL};
use xueliang_dispatcher::store::Store;

fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_alert_twice_is_stored_once() {
    let prom = PrometheusBuilder::new()
        .install_recorder()
        .expect("install the Prometheus recorder (one test per binary)");
    let dep = deployment();
    let broker = Broker::start();
    let (t, dlq) = (topic("alerts"), topic("dlq"));
    broker.create_topic(&t, 1);
    broker.create_topic(&dlq, 1);
    let a = alerts(&dep, 3);
    // a[1] is published twice, as a producer retry or a replay would.
    let sent = vec![a[0].clone(), a[1].clone(), a[1].clone(), a[2].clone()];
    publish(&producer(&broker), &t, &sent);

    let dir = scratch();
    let store = open_store(&db_path(dir.path()));
    let (k, d) = configs(&dep, &broker, &t, &dlq, "dispatcher-c");
    let shutdown = Shutdown::new();
    let h = start_consumer(
        &dep,
        &k,
        &d,
        store.clone(),
        test_options(1),
        shutdown.clone(),
    );
    wait_count(store.as_ref(), 3, Duration::from_secs(90), &broker).await;
    // The duplicate is the last-but-one message: wait for it to be seen.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while value(&prom.render(), DUPLICATES_TOTAL) < 1.0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.trigger();
    h.join().await.unwrap();

    let text = prom.render();
    assert_eq!(store.alert_count().await.unwrap(), 3);
    assert_eq!(value(&text, DUPLICATES_TOTAL), 1.0, "{text}");
    assert_eq!(value(&text, PERSISTED_TOTAL), 3.0, "{text}");
}
