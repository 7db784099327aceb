//! The dispatcher role wired in one place: Kafka consumer → router → store (SQLite or
//! PostgreSQL) → push hub, the desk API and UI, and the escalation timer.
//!
//! `xueliang run` and the benchmark harness both start it through [`start`]. Each long-running
//! part is a supervised task ([`Tasks`]): the consumer, the API server and the escalation
//! timer end only after shutdown; one that ends earlier has failed the role.

use crate::api::{self, ApiState};
use crate::clock::SystemClock;
use crate::consume::{ConsumeOptions, Consumer, ConsumerDeps};
use crate::policy::Policy;
use crate::push::Hub;
use crate::routing::Router;
use crate::store::{self, Store, StoreOptions};
use anyhow::Context;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use xueliang_core::config::Settings;
use xueliang_core::shutdown::Shutdown;
use xueliang_core::supervise::Tasks;

/// The role's name on `/healthz` and in `--role`.
pub const ROLE: &str = "dispatcher";

/// Opens the store, starts the consumer, the desk API (on `api_listen`, default
/// `dispatcher.listen`) and the escalation timer, adding each to `tasks`. Returns the push hub
/// every desk's event stream subscribes to, so an in-process observer (a bench) can watch too.
pub fn start(
    settings: &Settings,
    api_listen: Option<SocketAddr>,
    shutdown: &Shutdown,
    tasks: &mut Tasks,
) -> anyhow::Result<Hub> {
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
    let router = Arc::new(Router::new(node, &settings.jurisdictions)?);
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
        Ok(())
    });
    tracing::info!(api = %format!("http://{api_addr}/api/v1/"), "desk API listening");
    Ok(hub)
}
