//! The rdkafka side of the publisher: producer settings, the client context that feeds logs
//! and broker health into ours, topic creation, and which delivery errors are permanent.
//!
//! Design decisions:
//! - **Idempotent, acks=all, no local timeout.** `message.timeout.ms = 0` lets librdkafka
//!   retry a message for as long as it takes instead of failing it after a deadline. A
//!   timed-out message followed by a delivered one is how a keyed stream gets reordered; with
//!   no timeout, librdkafka's idempotent producer keeps each partition in order across broker
//!   outages, and the spool (not librdkafka's queue) bounds what waits: the publisher hands
//!   librdkafka at most a small window of records and keeps the rest on disk.
//! - **murmur2 partitioning.** The same partition for a key as Java clients and Kafka
//!   Streams pick, so tools outside this code agree on where a camera's alerts live.
//! - **The topic is created, not assumed.** At start (and retried in the background while the
//!   broker is unreachable) the alerts topic is created with the configured partition count
//!   and the cluster's default replication factor; "already exists" is success.

use metrics::counter;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use xueliang_core::config::KafkaConfig;
use xueliang_core::shutdown::Shutdown;

use super::HealthInner;
use super::metrics::PUBLISH_ERRORS;

pub(crate) type Producer = FutureProducer<PublisherContext>;

/// Shared by the producer and the admin client: routes librdkafka's logs into `tracing` and
/// tracks whether any broker is reachable.
#[derive(Clone)]
pub(crate) struct PublisherContext {
    pub(crate) health: Arc<HealthInner>,
}

impl ClientContext for PublisherContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(target: "librdkafka", facility = fac, "{msg}")
            }
            // Connection failures ("FAIL") repeat on every reconnect attempt while the broker
            // is down; with the spool behind us they are expected, and `error()` below reports
            // the state change once.
            RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning if fac == "FAIL" => {
                tracing::debug!(target: "librdkafka", facility = fac, "{msg}")
            }
            RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility = fac, "{msg}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::debug!(target: "librdkafka", facility = fac, "{msg}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::trace!(target: "librdkafka", facility = fac, "{msg}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                if self.health.broker_reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        reason,
                        "no Kafka broker reachable; alerts wait in the spool until one is"
                    );
                }
            }
            Some(RDKafkaErrorCode::Fatal) => {
                tracing::error!(%error, reason, "Kafka producer hit a fatal error; it will be recreated");
            }
            Some(
                RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::OperationTimedOut,
            ) => tracing::debug!(%error, reason, "Kafka transport error"),
            _ => tracing::warn!(%error, reason, "Kafka client error"),
        }
    }
}

/// Settings beyond [`KafkaConfig`]; tests shorten the reconnect backoff.
#[derive(Debug, Clone)]
pub struct ProducerSettings {
    /// `client.id`, shown in broker logs.
    pub client_id: String,
    /// `linger.ms`: how long librdkafka waits to batch messages.
    pub linger: Duration,
    /// `reconnect.backoff.max.ms`: how soon a returning broker is noticed.
    pub reconnect_backoff_max: Duration,
    /// Create the alerts topic at start. Off where topics are managed outside xueliang (or
    /// the broker does not implement CreateTopics, like librdkafka's mock cluster).
    pub create_topic: bool,
    /// Extra librdkafka properties (e.g. security settings), applied last.
    pub extra: Vec<(String, String)>,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            client_id: "xueliang-analyzer".into(),
            linger: Duration::from_millis(5),
            reconnect_backoff_max: Duration::from_secs(2),
            create_topic: true,
            extra: Vec::new(),
        }
    }
}

fn base_config(kafka: &KafkaConfig, settings: &ProducerSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &kafka.brokers)
        .set("client.id", &settings.client_id)
        .set("reconnect.backoff.ms", "100")
        .set(
            "reconnect.backoff.max.ms",
            settings.reconnect_backoff_max.as_millis().to_string(),
        )
        .set("socket.keepalive.enable", "true");
    c
}

pub(crate) fn producer_config(
    kafka: &KafkaConfig,
    settings: &ProducerSettings,
    window: usize,
) -> ClientConfig {
    let mut c = base_config(kafka, settings);
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "0")
        .set("linger.ms", settings.linger.as_millis().to_string())
        .set("partitioner", "murmur2_random")
        .set("queue.buffering.max.messages", (window * 2).to_string());
    for (k, v) in &settings.extra {
        c.set(k, v);
    }
    c
}

pub(crate) fn create_producer(
    kafka: &KafkaConfig,
    settings: &ProducerSettings,
    window: usize,
    health: Arc<HealthInner>,
) -> Result<Producer, KafkaError> {
    producer_config(kafka, settings, window).create_with_context(PublisherContext { health })
}

/// Creates the alerts topic, retrying while the broker is unreachable, and sets
/// `health.topic_ready` once the topic exists (or cannot be created for a reason retrying
/// will not fix, which is logged). Returns early on shutdown.
pub(crate) async fn ensure_topic(
    kafka: KafkaConfig,
    settings: ProducerSettings,
    health: Arc<HealthInner>,
    shutdown: Shutdown,
) {
    if !settings.create_topic {
        health.topic_ready.store(true, Ordering::Relaxed);
        return;
    }
    let mut config = base_config(&kafka, &settings);
    for (k, v) in &settings.extra {
        set_unless_producer_only(&mut config, k, v);
    }
    let admin: AdminClient<PublisherContext> = match config.create_with_context(PublisherContext {
        health: health.clone(),
    }) {
        Ok(a) => a,
        Err(e) => {
            counter!(PUBLISH_ERRORS, "reason" => "producer").increment(1);
            tracing::error!(error = %e, "cannot create the Kafka admin client; not creating the alerts topic");
            health.topic_ready.store(true, Ordering::Relaxed);
            return;
        }
    };
    let opts = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(5)))
        .operation_timeout(Some(Duration::from_secs(5)));
    let partitions = kafka.partitions.min(i32::MAX as u32) as i32;
    // -1: the cluster's default.replication.factor (Kafka ≥ 2.4); 1 if the broker refuses it.
    let mut replication = -1;
    let mut backoff = Duration::from_millis(250);
    let mut warned = false;
    loop {
        let topic = NewTopic::new(
            &kafka.alerts_topic,
            partitions,
            TopicReplication::Fixed(replication),
        );
        let result = tokio::select! {
            r = admin.create_topics([&topic], &opts) => r,
            _ = shutdown.wait() => return,
        };
        match result.map(|mut v| v.pop()) {
            Ok(Some(Ok(_))) => {
                tracing::info!(topic = %kafka.alerts_topic, partitions, "created the alerts topic");
                break;
            }
            Ok(Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists)))) => {
                tracing::debug!(topic = %kafka.alerts_topic, "alerts topic exists");
                break;
            }
            Ok(Some(Err((_, RDKafkaErrorCode::InvalidReplicationFactor))))
            | Ok(Some(Err((_, RDKafkaErrorCode::InvalidRequest))))
                if replication == -1 =>
            {
                replication = 1;
                continue;
            }
            Ok(Some(Err((_, code)))) => {
                tracing::warn!(
                    topic = %kafka.alerts_topic,
                    error = %code,
                    "could not create the alerts topic; assuming it exists (create it by hand \
                     with {partitions} partitions if publishing stalls)"
                );
                break;
            }
            Ok(None) => break,
            Err(e) if !is_unreachable(&e) => {
                tracing::warn!(
                    topic = %kafka.alerts_topic,
                    error = %e,
                    "the broker refused to create topics; assuming the alerts topic exists"
                );
                break;
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(
                        topic = %kafka.alerts_topic,
                        error = %e,
                        "cannot reach Kafka to create the alerts topic; retrying, alerts spool meanwhile"
                    );
                    warned = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.wait() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    health.topic_ready.store(true, Ordering::Relaxed);
}

/// Producer-only properties would make the admin client complain; pass the rest.
fn set_unless_producer_only(c: &mut ClientConfig, k: &str, v: &str) {
    const PRODUCER_ONLY: [&str; 6] = [
        "acks",
        "linger.ms",
        "enable.idempotence",
        "message.timeout.ms",
        "partitioner",
        "compression.type",
    ];
    if !PRODUCER_ONLY.contains(&k) {
        c.set(k, v);
    }
}

/// The broker could not be asked (as opposed to: it answered no).
fn is_unreachable(e: &KafkaError) -> bool {
    // rdkafka_error_code() is None for admin errors; their code is in the variant.
    let code = match e {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    };
    matches!(
        code,
        Some(
            RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotController
        )
    )
}

/// The topic is gone (deleted, or a broker that lost its data): it must be created again.
pub(crate) fn is_unknown_topic(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)
    )
}

/// Errors that no retry can fix: the record itself is unacceptable to the broker.
pub(crate) fn is_permanent(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::BadMessage
        )
    )
}
