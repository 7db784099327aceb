//! `xueliang send-alert`: publishes one Alert v1 to the configured broker, as an analyzer
//! would — to check a deployment's routes and desks end to end (like Alertmanager's
//! `amtool alert add`), and for the desk UI's end-to-end test.

use anyhow::{Context, bail};
use base64::Engine as _;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use std::path::PathBuf;
use std::time::Duration;
use xueliang::config_load;
use xueliang_core::CameraId;
use xueliang_core::contract::{AlertV1, EventType, Severity, Snapshot};

#[derive(clap::Args, Debug)]
pub struct SendAlertArgs {
    /// Path to xueliang.toml (names the broker and topic).
    #[arg(long, short, default_value = crate::cli::DEFAULT_CONFIG, env = "XUELIANG_CONFIG")]
    pub config: PathBuf,
    /// Camera id (20-digit GB/T 28181 code of the inventory).
    #[arg(long)]
    pub camera: String,
    /// Event type, e.g. zone_intrusion, crowd_gathering, video_loss.
    #[arg(long, default_value = "zone_intrusion")]
    pub event: String,
    /// info, minor, major or critical.
    #[arg(long, default_value = "major")]
    pub severity: String,
    /// One line shown on the desk.
    #[arg(long, default_value = "")]
    pub summary: String,
    /// A JPEG to carry as the evidence snapshot.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
}

fn parse<T: serde::de::DeserializeOwned>(flag: &str, v: &str, known: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_owned()))
        .map_err(|_| anyhow::anyhow!("{flag} {v:?} is not one of: {known}"))
}

pub fn run(a: SendAlertArgs) -> anyhow::Result<()> {
    let settings = config_load::load_for(&a.config, config_load::CameraCredentials::NotNeeded)?;
    let camera = CameraId::new(a.camera.clone()).map_err(|e| anyhow::anyhow!("--camera: {e}"))?;
    if settings.inventory.camera(&camera).is_none() {
        eprintln!("note: camera {camera} is not in the inventory; it will be routed to the centre");
    }
    let known: Vec<_> = EventType::ALL.iter().map(|e| e.as_str()).collect();
    let event: EventType = parse("--event", &a.event, &known.join(", "))?;
    let severity: Severity = parse("--severity", &a.severity, "info, minor, major, critical")?;
    let mut alert = AlertV1::new(camera, event, severity, "send-alert", chrono::Utc::now());
    alert.summary = a.summary;
    if let Some(p) = &a.snapshot {
        let bytes =
            std::fs::read(p).with_context(|| format!("reading --snapshot {}", p.display()))?;
        if !bytes.starts_with(&[0xFF, 0xD8]) {
            bail!("--snapshot {} is not a JPEG", p.display());
        }
        alert.snapshot = Some(Snapshot::Inline {
            content_type: "image/jpeg".into(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        });
    }
    let k = &settings.node.kafka;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &k.brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "30000")
        .create()
        .context("creating the Kafka producer")?;
    let key = alert.camera_id.to_string();
    let payload = alert.to_json();
    producer
        .send(BaseRecord::to(&k.alerts_topic).key(&key).payload(&payload))
        .map_err(|(e, _)| anyhow::anyhow!("cannot queue the alert: {e}"))?;
    producer
        .flush(Duration::from_secs(30))
        .with_context(|| format!("the broker {} did not acknowledge the alert", k.brokers))?;
    println!(
        "{}",
        serde_json::json!({ "alert_id": alert.alert_id, "camera_id": alert.camera_id, "topic": k.alerts_topic })
    );
    Ok(())
}
