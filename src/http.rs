//! The per-process HTTP endpoint: `/metrics` (Prometheus text format) and `/healthz`.
//!
//! Every process has one, whichever roles it runs, so an orchestrator can probe and scrape
//! each process the same way.

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::serve::{bind, serve_on};

/// What `/healthz` reports for each role.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoleStatus {
    Starting,
    Running,
    Draining,
    Failed,
}

/// Shared health state, updated by the roles.
#[derive(Clone, Default)]
pub struct Health(Arc<RwLock<BTreeMap<&'static str, RoleStatus>>>);

impl Health {
    pub fn set(&self, role: &'static str, status: RoleStatus) {
        self.0.write().expect("health lock").insert(role, status);
        metrics::gauge!(xueliang_core::metrics::UP, "role" => role).set(
            if status == RoleStatus::Running {
                1.0
            } else {
                0.0
            },
        );
    }

    /// Marks every role that was running as draining (on the first shutdown signal).
    pub fn draining(&self) {
        let mut map = self.0.write().expect("health lock");
        for status in map.values_mut() {
            if *status == RoleStatus::Running {
                *status = RoleStatus::Draining;
            }
        }
    }

    fn snapshot(&self) -> BTreeMap<&'static str, RoleStatus> {
        self.0.read().expect("health lock").clone()
    }
}

#[derive(Clone)]
struct AppState {
    metrics: PrometheusHandle,
    health: Health,
    shutdown: Shutdown,
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    version: &'static str,
    roles: BTreeMap<&'static str, RoleStatus>,
}

async fn healthz(State(s): State<AppState>) -> (StatusCode, Json<HealthBody>) {
    let roles = s.health.snapshot();
    let failed = roles.values().any(|r| *r == RoleStatus::Failed);
    let (code, status) = if s.shutdown.is_triggered() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if failed {
        (StatusCode::SERVICE_UNAVAILABLE, "failed")
    } else if roles.values().any(|r| *r == RoleStatus::Starting) {
        // Readiness: a model still loading is not ready to take cameras.
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    } else {
        (StatusCode::OK, "ok")
    };
    let body = HealthBody {
        status,
        version: env!("CARGO_PKG_VERSION"),
        roles,
    };
    (code, Json(body))
}

async fn metrics(State(s): State<AppState>) -> String {
    s.metrics.render()
}

pub fn router(metrics: PrometheusHandle, health: Health, shutdown: Shutdown) -> Router {
    Router::new()
        .route("/metrics", get(self::metrics))
        .route("/healthz", get(healthz))
        .with_state(AppState {
            metrics,
            health,
            shutdown,
        })
}

/// Binds `addr` and serves until `shutdown` triggers. Returns the bound address (useful with
/// port 0) and the server task.
pub async fn serve(
    addr: SocketAddr,
    app: Router,
    shutdown: Shutdown,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let listener = bind(
        addr,
        "/metrics and /healthz",
        "http.listen or pass --http-listen",
    )?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(serve_on(listener, app, shutdown, "metrics/health endpoint"));
    Ok((local, task))
}
