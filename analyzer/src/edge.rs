//! The edge role: ingest → camera health → analyzer → alert publisher, wired in one place.
//!
//! `xueliang run` and the benchmark harness both start an edge through [`start`], so what is
//! measured is what runs. Ingest and analyzer always share a process: decoded frames are large
//! and never cross the network.
//!
//! Design decisions:
//! - **One bridge task** moves frames from ingest's bounded queue into the detector's queue
//!   without blocking (a full detector queue drops the newest frame, counted per camera).
//! - **Camera health is judged here, once**, on every decoded frame before it may be dropped
//!   for a busy detector, and on a 1 s tick for cameras that send nothing.
//! - **Supervised.** The bridge returns an error if the publisher thread or the analyzer's
//!   post thread stops before shutdown: alerts would pile up unseen, so the role has failed.
//! - **Drain order on shutdown:** ingest stops, the analyzer finishes what it accepted, the
//!   publisher delivers or spools every alert (bounded by `drain_timeout_s`; what is left
//!   stays in the spool for the next start).

use crate::health::HealthMonitor;
use crate::model::resolve_model;
use crate::pipeline::AnalyzerStage;
use crate::publish::{AlertPublisher, PublisherOptions};
use anyhow::Context;
use chrono::Utc;
use std::time::{Duration, Instant};
use xueliang_core::config::Settings;
use xueliang_core::shutdown::Shutdown;
use xueliang_core::supervise::Tasks;
use xueliang_ingest::{Ingest, frame_channel};

/// The role's name on `/healthz` and in `--role`.
pub const ROLE: &str = "edge";

/// Starts ingest, the analyzer and the alert publisher for the enabled cameras of
/// `settings`. The one supervised task is added to `tasks`; it ends after `shutdown` once
/// every stage has drained, or early with an error when a stage died.
pub fn start(settings: &Settings, shutdown: &Shutdown, tasks: &mut Tasks) -> anyhow::Result<()> {
    let node = &settings.node;
    let model = resolve_model(&node.analyzer.model, None)?;
    let publisher = AlertPublisher::start(
        &node.kafka,
        PublisherOptions::from_node(node),
        shutdown.clone(),
    )
    .context("starting the alert publisher")?;
    let cameras: Vec<_> = settings
        .inventory
        .cameras
        .iter()
        .filter(|c| c.enabled)
        .cloned()
        .collect();
    let stage = AnalyzerStage::start(
        &node.analyzer,
        &model,
        cameras.clone(),
        node.utc_offset_s,
        publisher.sender(),
    )
    .context("starting the detector")?;

    let mut monitor = HealthMonitor::new(&cameras, Instant::now());
    let (frames_tx, mut frames_rx) = frame_channel(&node.ingest);
    let ingest = Ingest::start(&node.ingest, cameras, frames_tx, shutdown.clone())
        .context("starting ingest")?;

    let shutdown = shutdown.clone();
    let health_alerts = publisher.sender();
    let publisher_health = publisher.health();
    tasks.spawn(ROLE, "ingest → analyzer bridge", async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut faults = Vec::new();
        let mut failure = None;
        loop {
            tokio::select! {
                frame = frames_rx.recv() => {
                    let Some(frame) = frame else { break };
                    faults.extend(monitor.observe(&frame.camera, &frame.luma, Instant::now(), Utc::now()));
                    stage.submit(frame);
                }
                _ = tick.tick() => {
                    faults.extend(monitor.tick(Instant::now(), Utc::now()));
                    if !publisher_health.running() {
                        failure = Some("the alert publisher thread stopped");
                    } else if !stage.is_alive() {
                        failure = Some("the analyzer's tracking and rules thread stopped");
                    }
                    if failure.is_some() {
                        break;
                    }
                }
                _ = shutdown.wait() => break,
            }
            for ev in faults.drain(..) {
                if let Err(e) = health_alerts.send(ev.to_alert()).await {
                    tracing::error!(error = %e, "camera-fault alert could not be handed to the publisher");
                }
            }
        }
        drop(health_alerts);
        ingest.stop().await;
        let _ = tokio::task::spawn_blocking(move || stage.shutdown()).await;
        let report = publisher.join().await;
        tracing::info!(
            delivered = report.delivered,
            left_in_spool = report.left_in_spool,
            lost = report.lost_at_shutdown,
            "analyzer drained"
        );
        match failure {
            Some(what) => anyhow::bail!("{what} before shutdown (see the errors above)"),
            None => Ok(()),
        }
    });
    Ok(())
}
