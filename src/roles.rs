//! Starting the pipeline roles inside one process and wiring them together.
//!
//! Ingest and analyzer always share a process: decoded frames are large and never cross the
//! network (a cluster shards cameras across nodes instead). The bridge between them is one
//! tokio task that moves frames from ingest's bounded queue into the analyzer's detector
//! queue without blocking (a full detector queue drops the newest frame, counted).

use crate::http::{Health, RoleStatus};
use anyhow::Context;
use chrono::Utc;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;
use xueliang_analyzer::health::{FrameLuma, HealthMonitor};
use xueliang_analyzer::model::resolve_model;
use xueliang_analyzer::pipeline::{AnalyzerStage, EvidenceSource, FrameIn};
use xueliang_analyzer::publish::{AlertPublisher, PublisherOptions};
use xueliang_core::config::Settings;
use xueliang_core::shutdown::Shutdown;
use xueliang_ingest::Frame;
use xueliang_ingest::frame::SourcePicture;
use xueliang_ingest::{Ingest, frame_channel};

struct FullPicture(SourcePicture);

impl EvidenceSource for FullPicture {
    fn bgr(&self) -> Option<(u32, u32, Vec<u8>)> {
        let (w, h) = (self.0.width(), self.0.height());
        self.0.to_bgr(None).ok().map(|px| (w, h, px))
    }
}

fn to_analyzer(f: Frame) -> FrameIn {
    FrameIn {
        camera: f.camera,
        captured_at: f.captured_at,
        pts: f.pts,
        picture: f.picture,
        source_size: f.source_size,
        evidence: f
            .source
            .map(|s| Arc::new(FullPicture(s)) as Arc<dyn EvidenceSource>),
        submitted_at: Instant::now(),
    }
}

/// Starts ingest + analyzer (+ the alert publisher). Tasks are added to `tasks`; each ends
/// after `shutdown` once its stage has drained.
pub fn start_edge(
    settings: &Settings,
    health: &Health,
    shutdown: &Shutdown,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
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
    health.set("analyzer", RoleStatus::Running);

    let cameras_for_health = cameras.clone();
    let (frames_tx, mut frames_rx) = frame_channel(&node.ingest);
    let ingest = Ingest::start(&node.ingest, cameras, frames_tx, shutdown.clone())
        .context("starting ingest")?;
    health.set("ingest", RoleStatus::Running);

    // Bridge: ends when ingest has stopped and its queue is empty; then the analyzer drains
    // what it accepted and the publisher flushes (or spools) every alert. Camera health is
    // judged here, on every decoded frame, before the frame may be dropped for a busy detector.
    let shutdown_bridge = shutdown.clone();
    let health_alerts = publisher.sender();
    let mut monitor = HealthMonitor::new(&cameras_for_health, Instant::now());
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut faults = Vec::new();
        loop {
            tokio::select! {
                frame = frames_rx.recv() => {
                    let Some(frame) = frame else { break };
                    let luma = FrameLuma {
                        mean: frame.luma.mean,
                        variance: frame.luma.variance,
                        thumbnail: frame.luma.thumbnail,
                    };
                    faults.extend(monitor.observe(&frame.camera, &luma, Instant::now(), Utc::now()));
                    stage.submit(to_analyzer(frame));
                }
                _ = tick.tick() => faults.extend(monitor.tick(Instant::now(), Utc::now())),
                _ = shutdown_bridge.wait() => break,
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
    });
    Ok(())
}

/// Starts the dispatcher: Kafka consumer → router → store (SQLite or PostgreSQL) → push hub,
/// the desk API and UI, and the escalation timer. Returns the push hub (what every desk's
/// event stream subscribes to), so an in-process observer can watch the pushes.
pub fn start_dispatcher(
    settings: &Settings,
    api_listen: Option<std::net::SocketAddr>,
    health: &Health,
    shutdown: &Shutdown,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<xueliang_dispatcher::push::Hub> {
    use std::collections::HashMap;
    use xueliang_dispatcher::api::{self, ApiState};
    use xueliang_dispatcher::clock::SystemClock;
    use xueliang_dispatcher::consume::{ConsumeOptions, Consumer, ConsumerDeps};
    use xueliang_dispatcher::policy::Policy;
    use xueliang_dispatcher::push::Hub;
    use xueliang_dispatcher::routing::Router;
    use xueliang_dispatcher::store::{self, Store, StoreOptions};

    let node = &settings.node;
    let clock = Arc::new(SystemClock);
    let store: Arc<dyn Store> = Arc::new(
        store::open(
            &node.dispatcher.database,
            &node.data_dir,
            StoreOptions {
                policy: Policy::from_config(node),
                clock: clock.clone(),
            },
        )
        .context("opening the alert store")?,
    );
    tracing::info!(database = %store.describe(), "alert store open");
    let router =
        Arc::new(Router::new(node, &settings.jurisdictions).map_err(|e| anyhow::anyhow!("{e}"))?);
    let hub = Hub::new();
    let cameras: HashMap<_, _> = settings
        .inventory
        .cameras
        .iter()
        .map(|c| (c.id.clone(), c.clone()))
        .collect();
    let deps = ConsumerDeps {
        router: router.clone(),
        cameras: Arc::new(move |id| cameras.get(id).cloned()),
        store: store.clone(),
        hub: Some(hub.clone()),
    };
    let consumer = Consumer::start(
        &node.kafka,
        &node.dispatcher,
        deps,
        ConsumeOptions::default(),
        shutdown.clone(),
    )
    .context("starting the alert consumer")?;

    let state = ApiState::new(
        store.clone(),
        hub.clone(),
        clock,
        node.desks.clone(),
        &settings.inventory.cameras,
        &router,
        &settings.jurisdictions.areas,
        node.dispatcher.session_ttl,
        shutdown.clone(),
    );
    let listener = crate::http::bind(
        api_listen.unwrap_or(node.dispatcher.listen),
        "the desk API",
        "dispatcher.listen or pass --api-listen",
    )?;
    let local = listener.local_addr()?;
    let app = api::routes(state).merge(xueliang_dispatcher::ui::routes());
    tasks.spawn(crate::http::serve_on(
        listener,
        app,
        shutdown.clone(),
        "the desk API server",
    ));
    tasks.spawn(api::run_escalation(
        store,
        hub.clone(),
        std::time::Duration::from_secs(1),
        shutdown.clone(),
    ));
    tracing::info!(api = %format!("http://{local}/api/v1/"), "desk API listening");
    health.set("dispatcher", RoleStatus::Running);
    tasks.spawn(async move {
        if let Err(e) = consumer.join().await {
            tracing::error!(error = %e, "the alert consumer stopped with an error");
        }
    });
    Ok(hub)
}
