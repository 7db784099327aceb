//! Dead-letter producer: a malformed message is copied, byte for byte, to the DLQ topic with
//! why it was rejected and where it came from in its headers.
//!
//! The source offset is stored only after the DLQ acknowledged the copy (`acks=all`), so a bad
//! message is never lost and never stalls its partition: the consumer moves past it as soon as
//! the copy is durable.

use rdkafka::ClientConfig;
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// Header names on dead-lettered messages.
pub const H_ERROR: &str = "x-error";
pub const H_REASON: &str = "x-error-reason";
pub const H_TOPIC: &str = "x-source-topic";
pub const H_PARTITION: &str = "x-source-partition";
pub const H_OFFSET: &str = "x-source-offset";

/// How long one DLQ send may take before it is retried.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct DeadLetters {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetters {
    pub(crate) fn new(brokers: &str, topic: &str) -> rdkafka::error::KafkaResult<DeadLetters> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create()?;
        Ok(DeadLetters {
            producer,
            topic: topic.to_owned(),
        })
    }

    /// Sends a copy of `msg` and waits for the broker's acknowledgement.
    pub(crate) async fn send(
        &self,
        msg: &OwnedMessage,
        reason: &'static str,
        detail: &str,
    ) -> Result<(), rdkafka::error::KafkaError> {
        let partition = msg.partition().to_string();
        let offset = msg.offset().to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: H_ERROR,
                value: Some(detail),
            })
            .insert(Header {
                key: H_REASON,
                value: Some(reason),
            })
            .insert(Header {
                key: H_TOPIC,
                value: Some(msg.topic()),
            })
            .insert(Header {
                key: H_PARTITION,
                value: Some(&partition),
            })
            .insert(Header {
                key: H_OFFSET,
                value: Some(&offset),
            });
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
            .payload(msg.payload().unwrap_or_default())
            .headers(headers);
        if let Some(k) = msg.key() {
            rec = rec.key(k);
        }
        self.producer
            .send(rec, SEND_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }
}
