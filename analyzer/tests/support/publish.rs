//! Helpers shared by the publisher tests: alerts with recognisable order, a consumer that
//! reads a whole topic without a consumer group, and the delivery checks.
#![allow(dead_code)]

use base64::Engine as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};
use uuid::Uuid;
use xueliang_analyzer::evidence::{self, EvidenceBox, Overlay};
use xueliang_analyzer::publish::PublisherOptions;
use xueliang_core::CameraId;
use xueliang_core::config::KafkaConfig;
use xueliang_core::contract::{AlertV1, DetectedObject, EventType, Severity, Snapshot};

pub const CAMERAS: [&str; 3] = ["44030500001320000001", "44030500001320000002", "gate-east"];

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,xueliang_analyzer=info".into()),
        )
        .with_test_writer()
        .try_init();
}

pub fn random_topic() -> String {
    format!("alerts-test-{}", Uuid::now_v7().simple())
}

pub fn kafka_config(brokers: &str, topic: &str, partitions: u32) -> KafkaConfig {
    KafkaConfig::for_topic(brokers, topic, partitions)
}

/// Publisher options for tests: a quick reconnect so a restarted broker is noticed at once.
pub fn options(data_dir: &Path, spool_max_bytes: u64) -> PublisherOptions {
    let mut o = PublisherOptions::new(data_dir, spool_max_bytes);
    o.drain_timeout = Duration::from_secs(5);
    o.producer.reconnect_backoff_max = Duration::from_millis(500);
    o
}

/// An alert whose summary starts with its index `i`, padded to about `pad` more bytes.
pub fn test_alert(camera: &str, i: usize, pad: usize, jpeg: Option<&[u8]>) -> AlertV1 {
    let mut a = AlertV1::new(
        CameraId::new(camera).unwrap(),
        EventType::ZoneIntrusion,
        Severity::Major,
        "gate-intrusion",
        chrono::Utc::now(),
    );
    a.summary = format!("{i:06} {}", "x".repeat(pad));
    a.frame_size = Some([1280, 720]);
    a.objects = vec![DetectedObject {
        class: "person".into(),
        score: 0.8,
        bbox: [100.0, 100.0, 300.0, 600.0],
        track: Some(i as u64),
    }];
    a.snapshot = jpeg.map(evidence::inline_snapshot);
    a
}

pub fn index_of(a: &AlertV1) -> usize {
    a.summary[..6]
        .parse()
        .expect("test alert summary starts with its index")
}

/// A real evidence JPEG of a synthetic frame.
pub fn test_snapshot(w: u32, h: u32) -> Vec<u8> {
    let mut frame = vec![0u8; (w * h * 3) as usize];
    for (i, px) in frame.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i as u32 % w, i as u32 / w);
        px.copy_from_slice(&[(x % 256) as u8, (y % 256) as u8, 90]);
    }
    evidence::render_snapshot(
        &frame,
        w,
        h,
        &[EvidenceBox {
            label: "person",
            score: 0.8,
            bbox: [100.0, 100.0, 300.0, 600.0],
        }],
        Some(Overlay::Zone(&[
            [0.1, 0.5],
            [0.9, 0.5],
            [0.9, 0.95],
            [0.1, 0.95],
        ])),
        evidence::DEFAULT_MAX_BYTES,
    )
    .expect("render snapshot")
}

pub fn decode_snapshot(a: &AlertV1) -> image::DynamicImage {
    let Some(Snapshot::Inline {
        content_type,
        data_base64,
    }) = &a.snapshot
    else {
        panic!("alert {} has no inline snapshot", a.alert_id)
    };
    assert_eq!(content_type, "image/jpeg");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data_base64)
        .expect("snapshot is base64");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .expect("snapshot is a JPEG")
}

pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Consumed {
    /// (key, alert) in the order read (per partition: the broker's order).
    pub messages: Vec<(String, AlertV1)>,
    pub partitions: usize,
}

/// Reads the whole topic from the beginning (all partitions assigned directly, so no consumer
/// group coordination is involved) until `want` messages arrived, then one more second to
/// catch duplicates.
pub async fn consume_blocking(
    bootstrap: &str,
    topic: &str,
    want: usize,
    timeout: Duration,
) -> Consumed {
    let (bootstrap, topic) = (bootstrap.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || consume(&bootstrap, &topic, want, timeout))
        .await
        .expect("consumer thread")
}

pub fn consume(bootstrap: &str, topic: &str, want: usize, timeout: Duration) -> Consumed {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "group.id",
            format!("test-reader-{}", Uuid::now_v7().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("create consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let partitions = md.topics()[0].partitions().len();
    assert!(partitions > 0, "topic {topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p as i32, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).expect("assign partitions");
    let deadline = Instant::now() + timeout;
    let mut grace: Option<Instant> = None;
    let mut messages = Vec::new();
    loop {
        let now = Instant::now();
        if grace.is_some_and(|g| now >= g) || now >= deadline {
            break;
        }
        if messages.len() >= want && grace.is_none() {
            grace = Some(now + Duration::from_secs(1));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let key = String::from_utf8(m.key().expect("message has a key").to_vec())
                    .expect("key is UTF-8");
                let alert = AlertV1::from_json(m.payload().expect("message has a value"))
                    .expect("value is a valid Alert v1");
                messages.push((key, alert));
            }
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
    Consumed {
        messages,
        partitions,
    }
}

pub struct DeliveryReport {
    pub duplicates: usize,
}

/// No loss, key = camera id, and per camera the alerts (first occurrences) in send order;
/// duplicates are allowed (at-least-once) and counted.
pub fn assert_delivered(sent: &[(String, Uuid)], got: &[(String, AlertV1)]) -> DeliveryReport {
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut per_camera: HashMap<&str, Vec<Uuid>> = HashMap::new();
    for (key, alert) in got {
        assert_eq!(key, alert.camera_id.as_str(), "key is the camera id");
        if seen.insert(alert.alert_id) {
            per_camera.entry(key).or_default().push(alert.alert_id);
        } else {
            duplicates += 1;
        }
    }
    let sent_ids: HashSet<Uuid> = sent.iter().map(|(_, id)| *id).collect();
    let missing: Vec<_> = sent_ids.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{} of {} alerts never arrived: {missing:?}",
        missing.len(),
        sent.len()
    );
    assert_eq!(seen.len(), sent.len(), "only the sent alerts arrived");
    for camera in CAMERAS {
        let expected: Vec<Uuid> = sent
            .iter()
            .filter(|(c, _)| c == camera)
            .map(|(_, id)| *id)
            .collect();
        let got = per_camera.get(camera).cloned().unwrap_or_default();
        assert_eq!(got, expected, "camera {camera}: alerts out of order");
    }
    DeliveryReport { duplicates }
}
