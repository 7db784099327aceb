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
//! - **The camera set changes while running.** With `cluster.cameras = "file"` the edge runs
//!   every enabled camera of the inventory and applies each new inventory sent on the reload
//!   channel (SIGHUP); with `"kafka"` it runs what the cluster view assigns it
//!   (`xueliang-cluster`). Either way a change restarts only the cameras that changed, and
//!   ingest, camera health and the rules learn the new set together.
//! - **Every camera's status** (state, frame rates, active faults, this node) goes to the
//!   status topic every `cluster.status_interval_ms` and whenever the camera set changes
//!   (`crate::status`): it is how the dispatchers know that somebody watches each camera.
//! - **Drain order on shutdown:** ingest stops, the analyzer finishes what it accepted, the
//!   publisher delivers or spools every alert (bounded by `drain_timeout_s`; what is left
//!   stays in the spool for the next start).

use crate::health::HealthMonitor;
use crate::model::resolve_model;
use crate::pipeline::AnalyzerStage;
use crate::publish::{AlertPublisher, PublisherOptions};
use crate::status::{StatusSampler, StatusWriter};
use anyhow::Context;
use chrono::Utc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use xueliang_cluster::beat::{BeatV1, NodeRole};
use xueliang_cluster::view::{Assignment, View, ViewOptions, edge_assignment};
use xueliang_core::config::{CameraConfig, CameraSource, Settings};
use xueliang_core::shutdown::Shutdown;
use xueliang_core::supervise::Tasks;
use xueliang_ingest::{Ingest, frame_channel};

/// The role's name on `/healthz` and in `--role`.
pub const ROLE: &str = "edge";

/// Where the edge's cameras come from after start.
enum Feed {
    /// The inventory file's enabled cameras; a new list on each reload.
    File(Option<watch::Receiver<Vec<CameraConfig>>>),
    /// What the cluster view assigns this node.
    Cluster(View<Assignment>),
}

impl Feed {
    /// The next camera set; pending forever when nothing can change it.
    async fn next(&mut self) -> Vec<CameraConfig> {
        match self {
            Feed::File(Some(rx)) => {
                if rx.changed().await.is_err() {
                    return std::future::pending().await;
                }
                enabled(&rx.borrow_and_update())
            }
            Feed::File(None) => std::future::pending().await,
            Feed::Cluster(view) => loop {
                if view.updates.changed().await.is_err() {
                    return std::future::pending().await;
                }
                if let Some(a) = view.updates.borrow_and_update().as_ref() {
                    return a.cameras.clone();
                }
            },
        }
    }
}

/// The enabled cameras of an inventory: what a single node runs.
pub fn enabled(cameras: &[CameraConfig]) -> Vec<CameraConfig> {
    cameras.iter().filter(|c| c.enabled).cloned().collect()
}

/// Starts ingest, the analyzer and the alert publisher. With `cluster.cameras = "file"` the
/// edge runs the enabled cameras of `settings` and then of each inventory sent on `reloads`; with
/// `"kafka"` it joins the cluster and runs what it is assigned (`reloads` is not used). The
/// one supervised task is added to `tasks`; it ends after `shutdown` once every stage has
/// drained, or early with an error when a stage died.
pub fn start(
    settings: &Settings,
    reloads: Option<watch::Receiver<Vec<CameraConfig>>>,
    shutdown: &Shutdown,
    tasks: &mut Tasks,
) -> anyhow::Result<()> {
    let node = &settings.node;
    let model = resolve_model(&node.analyzer.model, None)?;
    let publisher = AlertPublisher::start(
        &node.kafka,
        PublisherOptions::from_node(node),
        shutdown.clone(),
    )
    .context("starting the alert publisher")?;
    let (cameras, mut feed) = match node.cluster.cameras {
        CameraSource::File => (enabled(&settings.inventory.cameras), Feed::File(reloads)),
        CameraSource::Kafka => {
            let opts = ViewOptions::for_node(node, true);
            let compute = edge_assignment(node.name.clone(), node.cluster.capacity.get());
            let capacity = node.cluster.capacity.get().min(u32::MAX as usize) as u32;
            let beat = BeatV1::new(&node.name, NodeRole::Edge, capacity);
            tracing::info!(node = %node.name, capacity = beat.capacity, "joining the cluster");
            let view = View::start(opts, beat, compute, shutdown.clone())?;
            (Vec::new(), Feed::Cluster(view))
        }
    };
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

    let status = StatusWriter::start(&node.kafka, node.cluster.status_interval, shutdown.clone())
        .context("starting the camera-status writer")?;
    let mut sampler = StatusSampler::new(&node.name);
    let status_every = node.cluster.status_interval;
    let shutdown = shutdown.clone();
    let health_alerts = publisher.sender();
    let publisher_health = publisher.health();
    tasks.spawn(ROLE, "ingest → analyzer bridge", async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut status_tick = tokio::time::interval(status_every);
        status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut faults = Vec::new();
        let mut failure = None;
        loop {
            tokio::select! {
                frame = frames_rx.recv() => {
                    let Some(frame) = frame else { break };
                    faults.extend(monitor.observe(&frame.camera, &frame.luma, Instant::now(), Utc::now()));
                    stage.submit(frame);
                }
                cameras = feed.next() => {
                    ingest.reload(cameras.clone());
                    monitor.set_cameras(&cameras, Instant::now());
                    stage.update_cameras(cameras);
                    // Cameras just taken over say so at once, not an interval later.
                    status.offer(sampler.sample(&ingest, &monitor, Instant::now()));
                }
                _ = status_tick.tick() => {
                    status.offer(sampler.sample(&ingest, &monitor, Instant::now()));
                }
                _ = tick.tick() => {
                    faults.extend(monitor.tick(Instant::now(), Utc::now()));
                    if let Feed::Cluster(view) = &feed && !view.is_running() {
                        failure = Some("the cluster view stopped (see the error above)");
                    } else if !publisher_health.running() {
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
        let _ = tokio::task::spawn_blocking(move || status.stop()).await;
        ingest.stop().await;
        if let Feed::Cluster(view) = feed {
            // Writes this node's tombstone: the others take its cameras now.
            let _ = tokio::task::spawn_blocking(move || view.join()).await;
        }
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
