//! Client-side error handling of the publisher, with errors injected by librdkafka's
//! in-process mock broker (the one place a mock is the right tool: a real broker cannot be
//! told to refuse the next produce request). Delivery guarantees across broker outages are
//! tested against a real broker in tests/publish.rs.

mod support {
    pub mod publish;
}

use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::time::Duration;
use support::publish::*;
use xueliang_analyzer::publish::AlertPublisher;
use xueliang_core::shutdown::Shutdown;

/// The mock broker has no CreateTopics: the test creates the topic itself.
fn mock_options(dir: &std::path::Path) -> xueliang_analyzer::publish::PublisherOptions {
    let mut o = options(dir, 1 << 20);
    o.producer.create_topic = false;
    o
}

/// A produce request refused with a non-retriable error fails its messages; the publisher
/// recreates the producer and sends again from the first unacknowledged alert: nothing lost,
/// order per camera kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_produce_requests_are_resent_in_order() {
    init_logs();
    let mock = MockCluster::new(1).unwrap();
    let topic = random_topic();
    mock.create_topic(&topic, 3, 1).unwrap();
    let kafka = kafka_config(&mock.bootstrap_servers(), &topic, 3);
    let spool_dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let publisher =
        AlertPublisher::start(&kafka, mock_options(spool_dir.path()), shutdown.clone()).unwrap();
    let sender = publisher.sender();
    let health = publisher.health();

    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 2],
    );
    let mut sent = Vec::new();
    for i in 0..30 {
        let camera = CAMERAS[i % CAMERAS.len()];
        let a = test_alert(camera, i, 500, None);
        sent.push((camera.to_string(), a.alert_id));
        sender.send(a).await.unwrap();
    }
    wait_until("spool drained", Duration::from_secs(60), || {
        health.spool_records() == 0
    })
    .await;
    let got = consume_blocking(
        &mock.bootstrap_servers(),
        &topic,
        sent.len(),
        Duration::from_secs(20),
    )
    .await;
    let report = assert_delivered(&sent, &got.messages);
    eprintln!(
        "refused produce: {} sent, {} read, {} duplicates",
        sent.len(),
        got.messages.len(),
        report.duplicates
    );
    drop(sender);
    shutdown.trigger();
    assert_eq!(publisher.join().await.left_in_spool, 0);
}

/// A record the broker will never take is kept in `spool/rejected/` (and logged at ERROR),
/// and does not block the alerts behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanently_rejected_alert_is_kept_aside_and_the_rest_flow() {
    init_logs();
    let mock = MockCluster::new(1).unwrap();
    let topic = random_topic();
    mock.create_topic(&topic, 1, 1).unwrap();
    let kafka = kafka_config(&mock.bootstrap_servers(), &topic, 1);
    let spool_dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let publisher =
        AlertPublisher::start(&kafka, mock_options(spool_dir.path()), shutdown.clone()).unwrap();
    let sender = publisher.sender();
    let health = publisher.health();

    // Warm up so the next produce request carries only the doomed alert.
    let first = test_alert(CAMERAS[0], 0, 100, None);
    let mut sent = vec![(CAMERAS[0].to_string(), first.alert_id)];
    sender.send(first).await.unwrap();
    wait_until("first alert acknowledged", Duration::from_secs(30), || {
        health.published_total() == 1
    })
    .await;

    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let doomed = test_alert(CAMERAS[0], 1, 100, None);
    let doomed_id = doomed.alert_id;
    sender.send(doomed).await.unwrap();
    let rejected = spool_dir.path().join("spool/rejected");
    wait_until("alert rejected", Duration::from_secs(30), || {
        std::fs::read_dir(&rejected).is_ok_and(|d| d.count() == 1)
    })
    .await;
    let kept = std::fs::read_dir(&rejected)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let kept = xueliang_core::contract::AlertV1::from_json(&std::fs::read(kept).unwrap()).unwrap();
    assert_eq!(kept.alert_id, doomed_id);

    for i in 2..8 {
        let a = test_alert(CAMERAS[0], i, 100, None);
        sent.push((CAMERAS[0].to_string(), a.alert_id));
        sender.send(a).await.unwrap();
    }
    wait_until("the rest delivered", Duration::from_secs(30), || {
        health.spool_records() == 0
    })
    .await;
    let got = consume_blocking(
        &mock.bootstrap_servers(),
        &topic,
        sent.len(),
        Duration::from_secs(20),
    )
    .await;
    assert_delivered(&sent, &got.messages);
    drop(sender);
    shutdown.trigger();
    publisher.join().await;
}
