//! The dispatcher role wired in one place: Kafka consumer → router → store (SQLite or
//! PostgreSQL) → push hub, the desk API and UI, and the escalation timer.
//!
//! One dispatcher or several: on SQLite the dispatcher is alone (it locks the database file,
//! so a second process on the same file is refused) and reads every alert partition; on
//! PostgreSQL it heartbeats on the nodes topic like an edge and reads its share of the
//! partitions (`consume`), and any number of dispatchers share the database.
//!
//! Camera status: every dispatcher reads the status topic the edges write, shows it on the
//! desks, raises `camera_unwatched` for a camera nobody runs and closes camera-fault
//! incidents the camera's own status shows are over (`crate::camera_status`).
//!
//! `xueliang run` and the benchmark harness both start it through [`start`]. Each long-running
//! part is a supervised task ([`Tasks`]): the consumer, the API server and the escalation
//! timer end only after shutdown; one that ends earlier has failed the role.

use crate::api::{self, ApiState};
use crate::catalog::Catalog;
use crate::clock::SystemClock;
use crate::consume::{ConsumeOptions, Consumer, ConsumerDeps, Partitions};
use crate::policy::Policy;
use crate::push::Hub;
use crate::routing::Router;
use crate::store::{self, Store, StoreOptions};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use xueliang_cluster::beat::{BeatV1, NodeRole};
use xueliang_cluster::follow::InventoryFollower;
use xueliang_cluster::view::{Share, View, ViewOptions, dispatcher_share};
use xueliang_core::config::{CameraConfig, CameraSource, Settings};
use xueliang_core::shutdown::Shutdown;
use xueliang_core::supervise::Tasks;

/// The role's name on `/healthz` and in `--role`.
pub const ROLE: &str = "dispatcher";

/// Opens the store, starts the consumer, the desk API (on `api_listen`, default
/// `dispatcher.listen`) and the escalation timer, adding each to `tasks`. With
/// `cluster.cameras = "file"`, each inventory sent on `reloads` (SIGHUP) replaces the cameras
/// it routes and lists. Returns the push hub every desk's event stream subscribes to, so an
/// in-process observer (a bench) can watch too.
pub fn start(
    settings: &Settings,
    api_listen: Option<SocketAddr>,
    reloads: Option<watch::Receiver<Vec<CameraConfig>>>,
    shutdown: &Shutdown,
    tasks: &mut Tasks,
) -> anyhow::Result<Hub> {
    let node = &settings.node;
    let clock = Arc::new(SystemClock);
    let password = store::database_password(&node.dispatcher)?;
    let store: Arc<dyn Store> = Arc::new(
        store::open(
            &node.dispatcher.database,
            password.as_ref(),
            &node.data_dir,
            StoreOptions {
                policy: Policy::from_config(node),
                clock: clock.clone(),
            },
        )
        .context("opening the alert store")?,
    );
    tracing::info!(database = %store.describe(), "alert store open");
    let hub = Hub::new();
    let (partitions, view, lock) = if store.shared() {
        let view = join_cluster(settings, shutdown)?;
        let pg = store::postgres_config(&node.dispatcher.database, password.as_ref())?;
        crate::push_relay::start(pg, &hub, shutdown)
            .context("starting the push relay between dispatchers")?;
        (Partitions::Shared(view.updates.clone()), Some(view), None)
    } else {
        (Partitions::All, None, Some(lock_sqlite(settings)?))
    };
    let router = Arc::new(Router::new(node, &settings.jurisdictions)?);
    let catalog = Catalog::new(
        &settings.inventory.cameras,
        router.clone(),
        &settings.jurisdictions.areas,
    );
    match (node.cluster.cameras, reloads) {
        (CameraSource::Kafka, _) => follow_inventory(settings, &catalog, shutdown, tasks)?,
        (CameraSource::File, Some(rx)) => follow_reloads(rx, &catalog, shutdown, tasks),
        (CameraSource::File, None) => {}
    }
    let lookup = catalog.clone();
    let deps = ConsumerDeps {
        router: router.clone(),
        cameras: Arc::new(move |id| lookup.camera(id)),
        store: store.clone(),
        hub: Some(hub.clone()),
        partitions,
    };
    let consumer = Consumer::start(
        &node.kafka,
        &node.dispatcher,
        deps,
        ConsumeOptions::default(),
        shutdown.clone(),
    )
    .context("starting the alert consumer")?;

    let board = crate::camera_status::board::Board::default();
    let reader = crate::camera_status::board::start_reader(
        &node.kafka.brokers,
        &node.kafka.status_topic,
        board.clone(),
        shutdown.clone(),
    )
    .context("starting the camera-status reader")?;
    let watcher = crate::camera_status::Watcher {
        board: board.clone(),
        store: store.clone(),
        hub: hub.clone(),
        router: router.clone(),
        catalog: catalog.clone(),
        unwatched_after: node.cluster.unwatched_after,
    };
    let watch_shutdown = shutdown.clone();
    tasks.spawn(ROLE, "camera-status watcher", async move {
        watcher.run(watch_shutdown).await;
        let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        Ok(())
    });

    let state = ApiState::new(
        store.clone(),
        hub.clone(),
        clock,
        node.desks.clone(),
        catalog,
        node.dispatcher.session_ttl,
        shutdown.clone(),
    )
    .with_status(board)
    .with_silence_limits(api::SilenceLimits {
        station: node.dispatcher.max_station_silence,
        any: node.dispatcher.max_silence,
    });
    let listener = crate::serve::bind(
        api_listen.unwrap_or(node.dispatcher.listen),
        "the desk API",
        "dispatcher.listen or pass --api-listen",
    )?;
    let api_addr = listener.local_addr()?;
    let app = api::routes(state).merge(crate::ui::routes());
    tasks.spawn(
        ROLE,
        "desk API server",
        crate::serve::serve_on(listener, app, shutdown.clone(), "the desk API server"),
    );
    let escalation =
        api::run_escalation(store, hub.clone(), Duration::from_secs(1), shutdown.clone());
    tasks.spawn(ROLE, "escalation timer", async move {
        escalation.await;
        Ok(())
    });
    tasks.spawn(ROLE, "alert consumer", async move {
        consumer.join().await?;
        drop(lock);
        Ok(())
    });
    if let Some(view) = view {
        let shutdown = shutdown.clone();
        tasks.spawn(ROLE, "cluster view", async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tick.tick() => anyhow::ensure!(
                        view.is_running(),
                        "the cluster view stopped (see the error above)"
                    ),
                }
            }
            // Writes this dispatcher's tombstone: the others take its partitions now.
            let _ = tokio::task::spawn_blocking(move || view.join()).await;
            Ok(())
        });
    }
    tracing::info!(api = %format!("http://{api_addr}/api/v1/"), "desk API listening");
    Ok(hub)
}

/// Follows the inventory topic (`cluster.cameras = "kafka"`), as the edges do: each change
/// replaces the catalogue the consumer routes with, the desks list and the watcher judges.
/// Until the topic has been read the inventory file's cameras serve.
fn follow_inventory(
    settings: &Settings,
    catalog: &Catalog,
    shutdown: &Shutdown,
    tasks: &mut Tasks,
) -> anyhow::Result<()> {
    let kafka = &settings.node.kafka;
    let follower =
        InventoryFollower::start(&kafka.brokers, &kafka.inventory_topic, shutdown.clone())?;
    let catalog = catalog.clone();
    let shutdown = shutdown.clone();
    tasks.spawn(ROLE, "inventory follower", async move {
        let updates = follower.updates.clone();
        let followed = catalog
            .follow(updates, topic_cameras, "the inventory topic", &shutdown)
            .await;
        anyhow::ensure!(followed, "the inventory follower stopped");
        let _ = tokio::task::spawn_blocking(move || follower.join()).await;
        Ok(())
    });
    Ok(())
}

/// Applies each inventory file re-read on SIGHUP (the single node) to the catalogue.
fn follow_reloads(
    rx: watch::Receiver<Vec<CameraConfig>>,
    catalog: &Catalog,
    shutdown: &Shutdown,
    tasks: &mut Tasks,
) {
    let catalog = catalog.clone();
    let shutdown = shutdown.clone();
    tasks.spawn(ROLE, "inventory reload", async move {
        if !catalog.follow(rx, file_cameras, "SIGHUP", &shutdown).await {
            // The process no longer reloads: keep the cameras until shutdown.
            shutdown.wait().await;
        }
        Ok(())
    });
}

/// The follower's inventory, once the topic was read to its end.
fn topic_cameras(u: &Option<crate::catalog::Cameras>) -> Option<&[CameraConfig]> {
    u.as_deref().map(Vec::as_slice)
}

/// A re-read inventory file. (`&Vec`: the reload channel's type, as `Catalog::follow` reads it.)
#[allow(clippy::ptr_arg)]
fn file_cameras(v: &Vec<CameraConfig>) -> Option<&[CameraConfig]> {
    Some(v)
}

/// Heartbeats as a dispatcher and follows the live dispatchers (PostgreSQL only).
fn join_cluster(settings: &Settings, shutdown: &Shutdown) -> anyhow::Result<View<Share>> {
    let node = &settings.node;
    let opts = ViewOptions::for_node(node, false);
    // Every dispatcher weighs 1: the partitions are divided evenly.
    let beat = BeatV1::new(&node.name, NodeRole::Dispatcher, 1);
    tracing::info!(node = %node.name, "dispatcher joining the cluster (shared PostgreSQL store)");
    View::start(
        opts,
        beat,
        dispatcher_share(node.name.clone()),
        shutdown.clone(),
    )
}

/// Holds an exclusive lock on the SQLite database for as long as it lives: two dispatchers on
/// one SQLite file would each read every partition and fight over the file.
fn lock_sqlite(settings: &Settings) -> anyhow::Result<std::fs::File> {
    let node = &settings.node;
    let rel = node
        .dispatcher
        .database
        .strip_prefix("sqlite://")
        .unwrap_or(&node.dispatcher.database);
    let path = node.data_dir.join(format!("{rel}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another dispatcher is already using the SQLite database {} (it holds {}); an SQLite \
             store belongs to one dispatcher — run several dispatchers on PostgreSQL \
             (dispatcher.database = \"postgres://…\"), or give this one its own data_dir",
            node.data_dir.join(rel).display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}
