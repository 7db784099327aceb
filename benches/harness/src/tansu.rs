//! The Kafka-protocol broker the benches start for themselves, and what they share to talk to
//! it (topic creation, delivery counting). The broker: tansu on a free loopback port, SQLite
//! storage in a temporary directory, started by the same launcher as the integration tests
//! (`xueliang_testkit::broker`), killed on drop.

use anyhow::{Context, anyhow, ensure};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;
use rdkafka::types::RDKafkaErrorCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xueliang_testkit::Broker;

/// Starts the test broker with the one launcher the tests use too (`xueliang-testkit`).
pub fn start_broker() -> anyhow::Result<Broker> {
    Broker::try_start().map_err(|e| {
        anyhow::anyhow!("{e} (or point the bench at a broker with --broker HOST:PORT)")
    })
}

/// Creates `topic` (an existing one is fine).
pub async fn create_topic(brokers: &str, topic: &str, partitions: u32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .with_context(|| format!("creating a Kafka admin client for {brokers}"))?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let new = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(1));
    let results = tokio::time::timeout(Duration::from_secs(60), admin.create_topics([&new], &opts))
        .await
        .map_err(|_| anyhow!("the broker {brokers} did not create topic {topic} within 60 s"))?
        .with_context(|| format!("creating topic {topic} on {brokers}"))?;
    for r in results {
        if let Err((t, code)) = r {
            ensure!(
                code == RDKafkaErrorCode::TopicAlreadyExists,
                "creating topic {t} on {brokers}: {code}"
            );
        }
    }
    Ok(())
}

/// Counts delivery reports, so a bench never reports alerts the broker did not take.
#[derive(Default)]
pub struct Deliveries {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

pub struct DeliveryContext(pub Arc<Deliveries>);

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => {
                self.0.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                *self.0.last_error.lock().expect("delivery lock") = Some(e.to_string());
            }
        }
    }
}
