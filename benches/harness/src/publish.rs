//! `xueliang-bench publish`: alerts through the analyzer's whole publish path — the bounded
//! channel, spool append + fsync, idempotent acks=all produce, spool commit — against the
//! broker's raw idempotent acks=all produce of records of the same size, measured in the same
//! run on the same broker. (It replaces an ignored "test" that printed the rate alone.)

use crate::dispatch::AlertFactory;
use crate::e2e::limits;
use crate::tansu::{create_topic, start_broker};
use anyhow::{Context, ensure};
use serde_json::json;
use std::time::{Duration, Instant};
use xueliang_analyzer::publish::{AlertPublisher, PublisherHealth, PublisherOptions};
use xueliang_core::CameraId;
use xueliang_core::config::KafkaConfig;
use xueliang_core::shutdown::Shutdown;

#[derive(clap::Args, Debug)]
pub struct Options {
    /// Alerts to publish (and raw records to produce).
    #[arg(long, default_value_t = 20_000)]
    pub alerts: usize,
    /// Snapshot size per alert in KB (0: a ~2 KB alert without a snapshot).
    #[arg(long, default_value_t = 0)]
    pub snapshot_kb: usize,
    /// Use this Kafka broker (HOST:PORT) instead of starting tansu.
    #[arg(long)]
    pub broker: Option<String>,
}

const PARTITIONS: u32 = 6;

pub fn run(o: Options) -> anyhow::Result<()> {
    ensure!(o.alerts > 0, "--alerts must be at least 1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (tansu, brokers) = match &o.broker {
        Some(b) => (None, b.clone()),
        None => {
            let t = start_broker()?;
            let b = t.bootstrap();
            (Some(t), b)
        }
    };
    let cameras: Vec<CameraId> = (0..64)
        .map(|i| CameraId::new(format!("bench-cam-{i}")))
        .collect::<Result<_, _>>()?;
    let factory = AlertFactory::new(cameras, o.snapshot_kb);
    let bytes = factory.bytes();
    eprintln!("publish: {} alerts of ~{bytes} B to {brokers}", o.alerts);

    eprintln!("limit: raw idempotent acks=all produce of {bytes} B records …");
    let raw = limits::broker(&rt, &brokers, PARTITIONS, o.alerts, bytes)?;

    let topic = format!("bench-publish-{}", std::process::id());
    rt.block_on(create_topic(&brokers, &topic, PARTITIONS))?;
    let kafka = KafkaConfig::for_topic(&brokers, &topic, PARTITIONS);
    let spool = tempfile::tempdir().context("creating a spool directory")?;
    let shutdown = Shutdown::new();
    let publisher = {
        let _rt = rt.enter();
        AlertPublisher::start(
            &kafka,
            PublisherOptions::new(spool.path(), 1 << 30),
            shutdown.clone(),
        )?
    };
    let sender = publisher.sender();
    let health = publisher.health();
    // One alert first: topic, connection and the producer id stay out of the timing.
    rt.block_on(sender.send(factory.make(0)))?;
    wait_for(&health, 1, Duration::from_secs(30))?;

    let alerts: Vec<_> = (1..=o.alerts).map(|i| factory.make(i)).collect();
    let t0 = Instant::now();
    rt.block_on(async {
        for a in alerts {
            sender.send(a).await?;
        }
        anyhow::Ok(())
    })?;
    let handed_over = t0.elapsed();
    wait_for(&health, o.alerts as u64 + 1, Duration::from_secs(600))?;
    let elapsed = t0.elapsed().as_secs_f64();
    drop(sender);
    shutdown.trigger();
    let report = rt.block_on(publisher.join());
    ensure!(
        report.left_in_spool == 0,
        "{} alerts were left in the spool",
        report.left_in_spool
    );

    let per_s = o.alerts as f64 / elapsed;
    let ratio = per_s / raw.produce_per_s;
    println!(
        "publish: {per_s:.0} alerts/s through channel + spool (fsync) + idempotent produce + \
         commit, against a raw produce of {:.0} records/s: {ratio:.2}× (all handed over after \
         {:.2} s, all acknowledged after {elapsed:.2} s)",
        raw.produce_per_s,
        handed_over.as_secs_f64()
    );
    println!(
        "{}",
        json!({
            "bench": "publish",
            "alerts": o.alerts,
            "alert_bytes": bytes,
            "alerts_per_s": per_s,
            "raw_produce_per_s": raw.produce_per_s,
            "ratio": ratio,
            "partitions": PARTITIONS,
            "broker": if tansu.is_some() { "tansu" } else { "external" },
        })
    );
    Ok(())
}

/// Waits until the broker acknowledged `n` alerts of this publisher.
fn wait_for(health: &PublisherHealth, n: u64, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while health.published_total() < n {
        ensure!(
            Instant::now() < deadline,
            "only {} of {n} alerts acknowledged within {limit:?}",
            health.published_total()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
