//! `xueliang run`: starts the selected roles in one process and the per-process endpoint, then
//! waits for a signal and drains.

use crate::cli::{Role, RunArgs};
use crate::http::{self, Health, RoleStatus};
use crate::{config_load, roles, signals, telemetry};
use anyhow::Context;
use std::time::Instant;
use xueliang_core::shutdown::Shutdown;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let settings = config_load::load(&args.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let node = &settings.node;
    telemetry::init_tracing(node.log_format, &node.log_level);
    let prometheus = telemetry::init_metrics(&node.name)?;
    std::fs::create_dir_all(&node.data_dir)
        .with_context(|| format!("creating data_dir {}", node.data_dir.display()))?;

    let roles: Vec<Role> = if args.role.is_empty() {
        Role::ALL.to_vec()
    } else {
        args.role.clone()
    };
    let shutdown = Shutdown::new();
    signals::install(shutdown.clone());
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

    let mut tasks: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    for role in &roles {
        health.set(role.as_str(), RoleStatus::Starting);
    }
    let edge = roles.contains(&Role::Ingest) || roles.contains(&Role::Analyzer);
    if edge && !(roles.contains(&Role::Ingest) && roles.contains(&Role::Analyzer)) {
        anyhow::bail!(
            "--role ingest and --role analyzer run together (decoded frames never cross the \
             network; a cluster shards cameras across nodes): pass both, or neither"
        );
    }
    if edge {
        roles::start_edge(&settings, &health, &shutdown, &mut tasks)?;
    }
    if roles.contains(&Role::Dispatcher) {
        roles::start_dispatcher(&settings, args.api_listen, &health, &shutdown, &mut tasks)?;
    }

    shutdown.wait().await;
    health.draining();
    let started = Instant::now();
    let drain = async {
        while let Some(res) = tasks.join_next().await {
            if let Err(e) = res {
                tracing::error!(error = %e, "a role task failed while draining");
            }
        }
        let _ = server.await;
    };
    if tokio::time::timeout(node.drain_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_s = node.drain_timeout.as_secs(),
            "drain timed out; exiting with work still in flight"
        );
    }
    metrics::histogram!(xueliang_core::metrics::SHUTDOWN_DRAIN_SECONDS)
        .record(started.elapsed().as_secs_f64());
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "stopped");
    Ok(())
}
