//! `xueliang run`: starts the selected roles in one process and the per-process endpoint,
//! supervises them, and on a signal (or a failed role) drains and exits.
//!
//! Shutdown always ends, whatever the broker does: the drain is bounded by
//! `shutdown.drain_timeout_s`, librdkafka's blocking closes run on threads of their own, the
//! second signal is handled off the main runtime, and a last-resort deadline thread exits the
//! process [`DEADLINE_GRACE`] after the drain's own limit. Nothing is lost on the way: unsent
//! alerts stay in the spool and uncommitted offsets are redelivered.

use crate::cli::{Role, RunArgs};
use crate::http::{self, Health, RoleStatus};
use crate::signals;
use anyhow::Context;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use xueliang::config_load::{self, CameraCredentials};
use xueliang::telemetry;
use xueliang_analyzer::edge;
use xueliang_core::config::{CameraConfig, CameraSource};
use xueliang_core::shutdown::Shutdown;
use xueliang_core::supervise::{TaskExit, Tasks};

/// Counts SIGHUP reloads by outcome (`applied`, `rejected`, `ignored`).
pub const CONFIG_RELOADS: &str = "xueliang_config_reloads_total";

/// How long after `drain_timeout_s` the process exits even if something still hangs.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(3);

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let roles: Vec<Role> = if args.role.is_empty() {
        Role::ALL.to_vec()
    } else {
        args.role.clone()
    };
    // Only an edge connects to cameras: a dispatcher needs none of their passwords.
    let credentials = if roles.contains(&Role::Edge) {
        CameraCredentials::Resolve
    } else {
        CameraCredentials::NotNeeded
    };
    let mut settings = config_load::load_for(&args.config, credentials)?;
    if let Some(name) = &args.node_name {
        settings.node.name = name.clone();
        settings.node.dispatcher.rename_node(name);
    }
    let settings = settings;
    let node = &settings.node;
    telemetry::init_tracing(node.log_format, &node.log_level);
    let prometheus = telemetry::init_metrics(&node.name)?;
    std::fs::create_dir_all(&node.data_dir)
        .with_context(|| format!("creating data_dir {}", node.data_dir.display()))?;

    let shutdown = Shutdown::new();
    // The whole inventory: the edge runs its enabled cameras, the dispatcher lists all.
    let (reload_tx, reload_rx) = watch::channel(settings.inventory.cameras.clone());
    let config = args.config.clone();
    let source = node.cluster.cameras;
    signals::install(shutdown.clone(), move || {
        reload(&config, source, &reload_tx)
    })
    .context("installing the signal handlers")?;
    let health = Health::default();
    let app = http::router(prometheus, health.clone(), shutdown.clone());
    let (addr, server) = http::serve(
        args.http_listen.unwrap_or(node.http_listen),
        app,
        shutdown.clone(),
    )
    .await?;
    tracing::info!(
        node = %node.name,
        config = %args.config.display(),
        cameras = settings.inventory.cameras.len(),
        roles = ?roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        metrics = %format!("http://{addr}/metrics"),
        health = %format!("http://{addr}/healthz"),
        "xueliang started"
    );

    let mut tasks = Tasks::new();
    for role in &roles {
        health.set(role.as_str(), RoleStatus::Starting);
    }
    for role in &roles {
        let started = match role {
            Role::Edge => edge::start(&settings, Some(reload_rx.clone()), &shutdown, &mut tasks),
            Role::Dispatcher => xueliang_dispatcher::role::start(
                &settings,
                args.api_listen,
                Some(reload_rx.clone()),
                &shutdown,
                &mut tasks,
            )
            .map(drop),
        };
        if let Err(e) = started {
            // Roles already started drain before the error is reported.
            health.set(role.as_str(), RoleStatus::Failed);
            shutdown.trigger();
            drain(&mut tasks, node.drain_timeout).await;
            return Err(e.context(format!("starting the {} role", role.as_str())));
        }
        health.set(role.as_str(), RoleStatus::Running);
    }

    // A role task ends before shutdown only when its role failed.
    let failed: Option<TaskExit> = tasks.watch(&shutdown).await;
    if let Some(exit) = &failed {
        health.set(exit.role, RoleStatus::Failed);
        tracing::error!(
            role = exit.role,
            task = exit.task,
            error = exit
                .outcome
                .as_ref()
                .err()
                .map(String::as_str)
                .unwrap_or("ended early"),
            "a role task stopped before shutdown; draining the others and exiting non-zero so \
             the supervisor restarts this process"
        );
        shutdown.trigger();
    }
    health.draining();
    start_deadline(node.drain_timeout + DEADLINE_GRACE);
    let started = Instant::now();
    let drained = drain(&mut tasks, node.drain_timeout).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    metrics::histogram!(xueliang_core::metrics::SHUTDOWN_DRAIN_SECONDS)
        .record(started.elapsed().as_secs_f64());
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        drained,
        "stopped"
    );
    match failed {
        Some(exit) => anyhow::bail!(
            "the {} role failed: {} {}",
            exit.role,
            exit.task,
            exit.outcome
                .err()
                .unwrap_or_else(|| "ended before shutdown".into())
        ),
        None => Ok(()),
    }
}

/// SIGHUP: re-reads the configuration and hands the inventory's enabled cameras to the edge.
/// A configuration with errors is refused whole (the running cameras stay as they are).
/// Only the camera inventory is applied; other settings need a restart.
fn reload(config: &std::path::Path, source: CameraSource, tx: &watch::Sender<Vec<CameraConfig>>) {
    if source == CameraSource::Kafka {
        metrics::counter!(CONFIG_RELOADS, "outcome" => "ignored").increment(1);
        tracing::warn!(
            "SIGHUP ignored: with cluster.cameras = \"kafka\" cameras come from the inventory \
             topic; change them with `xueliang cameras apply`"
        );
        return;
    }
    match config_load::load(config) {
        Ok(settings) => {
            let cameras = settings.inventory.cameras;
            metrics::counter!(CONFIG_RELOADS, "outcome" => "applied").increment(1);
            tracing::info!(
                config = %config.display(),
                cameras = cameras.len(),
                "SIGHUP: camera inventory reloaded (other settings apply at the next restart)"
            );
            tx.send_replace(cameras);
        }
        Err(errors) => {
            metrics::counter!(CONFIG_RELOADS, "outcome" => "rejected").increment(1);
            tracing::error!(
                config = %config.display(),
                errors = %errors,
                "SIGHUP: the configuration has errors; nothing reloaded, the cameras keep running \
                 as they were"
            );
        }
    }
}

/// Waits for every task to end, for at most `limit`; logs the ones that ended with an error.
/// Returns whether all of them ended in time.
async fn drain(tasks: &mut Tasks, limit: Duration) -> bool {
    let all = async {
        while let Some(exit) = tasks.next().await {
            if let Err(e) = &exit.outcome {
                tracing::error!(role = exit.role, task = exit.task, error = %e, "a role task failed while draining");
            }
        }
    };
    if tokio::time::timeout(limit, all).await.is_err() {
        tracing::warn!(
            timeout_s = limit.as_secs(),
            left = tasks.len(),
            "drain timed out; exiting with work still in flight (unsent alerts stay in the spool)"
        );
        tasks.abort_all();
        return false;
    }
    true
}

/// The last resort: a plain thread that ends the process after `after`, whatever the async
/// runtime is doing (a worker blocked in a C library cannot be cancelled).
fn start_deadline(after: Duration) {
    let _ = std::thread::Builder::new()
        .name("shutdown-deadline".into())
        .spawn(move || {
            std::thread::sleep(after);
            tracing::error!(
                after_s = after.as_secs(),
                "shutdown did not finish in time; exiting now"
            );
            std::process::exit(1);
        });
}
