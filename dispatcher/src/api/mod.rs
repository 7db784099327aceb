//! The desk API under `/api/v1` (axum, JSON) and the live push.
//!
//! Design decisions:
//! - **Authorisation is enforced here**: every handler takes a [`auth::Caller`]; a station
//!   user's queries are filtered to its desk in SQL, and an incident of another desk answers
//!   404 (not 403) so its existence does not leak.
//! - The route table is written once ([`routes`]) and the OpenAPI document is checked
//!   against it by a test, so the document cannot drift from the server.
//! - Handlers only translate HTTP; logic lives in the store (lifecycle, grouping) and in
//!   [`crate::policy`].

pub mod admin;
pub mod auth;
pub mod error;
pub mod events;
pub mod incidents;
pub mod map;
pub mod openapi;

use crate::catalog::{Catalog, Snapshot};
use crate::clock::Clock;
use crate::push::Hub;
use crate::store::Store;
use axum::Router;
use axum::routing::{delete, get, post};
use std::sync::Arc;
use std::time::Duration;
use xueliang_core::config::CameraConfig;
use xueliang_core::contract::DeskV1;
use xueliang_core::shutdown::Shutdown;
use xueliang_core::{CameraId, DeskId};

pub use crate::catalog::CameraEntry;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub hub: Hub,
    pub clock: Arc<dyn Clock>,
    pub desks: Arc<Vec<DeskV1>>,
    /// The cameras with their home desks and the map (replaced when the inventory changes).
    pub catalog: Catalog,
    pub session_ttl: Duration,
    pub shutdown: Shutdown,
    /// The cameras' live status from the status topic (empty in tests that run no reader).
    pub status: crate::camera_status::board::Board,
    /// The longest silence a station may set, and the centre.
    pub silence_limits: SilenceLimits,
}

/// `dispatcher.max_station_silence_s` and `dispatcher.max_silence_s`.
#[derive(Debug, Clone, Copy)]
pub struct SilenceLimits {
    pub station: Duration,
    pub any: Duration,
}

impl Default for SilenceLimits {
    fn default() -> Self {
        SilenceLimits {
            station: Duration::from_secs(4 * 3600),
            any: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl ApiState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        hub: Hub,
        clock: Arc<dyn Clock>,
        desks: Vec<DeskV1>,
        catalog: Catalog,
        session_ttl: Duration,
        shutdown: Shutdown,
    ) -> ApiState {
        ApiState {
            catalog,
            store,
            hub,
            clock,
            desks: Arc::new(desks),
            session_ttl,
            shutdown,
            status: Default::default(),
            silence_limits: SilenceLimits::default(),
        }
    }

    /// Bounds the silences desks may set.
    pub fn with_silence_limits(mut self, limits: SilenceLimits) -> ApiState {
        self.silence_limits = limits;
        self
    }

    /// Shows the cameras' live status from `board` in the camera list.
    pub fn with_status(mut self, board: crate::camera_status::board::Board) -> ApiState {
        self.status = board;
        self
    }

    pub fn desk(&self, id: &DeskId) -> Option<&DeskV1> {
        self.desks.iter().find(|d| &d.id == id)
    }

    /// A camera of the inventory with its default desk.
    pub fn camera_entry(&self, id: &CameraId) -> Option<CameraEntry> {
        self.catalog.snapshot().entry(id).cloned()
    }

    pub fn camera(&self, id: &CameraId) -> Option<CameraConfig> {
        self.catalog.camera(id)
    }

    fn summarise(
        snap: &Snapshot,
        i: xueliang_core::contract::IncidentV1,
    ) -> incidents::IncidentSummary {
        let cam = snap.entry(&i.camera_id);
        incidents::IncidentSummary {
            camera_name: cam.map(|c| c.config.name.clone()).unwrap_or_default(),
            place: cam
                .and_then(|c| c.jurisdiction_name.clone())
                .unwrap_or_default(),
            incident: i,
        }
    }
}

/// Every route: (method, path). The OpenAPI document must describe exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/login"),
    ("post", "/api/v1/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/desks"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/incidents/{id}"),
    ("get", "/api/v1/incidents/{id}/alerts/{alert_id}/snapshot"),
    ("post", "/api/v1/incidents/{id}/ack"),
    ("post", "/api/v1/incidents/{id}/dispatch"),
    ("post", "/api/v1/incidents/{id}/close"),
    ("get", "/api/v1/cameras"),
    ("get", "/api/v1/map"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/duty-level"),
    ("put", "/api/v1/duty-level"),
    ("get", "/api/v1/silences"),
    ("post", "/api/v1/silences"),
    ("delete", "/api/v1/silences/{id}"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/openapi.json"),
];

/// The `/api/v1` routes. Serve with `into_make_service_with_connect_info::<SocketAddr>()`
/// (the audit trail records the client address).
pub fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/desks", get(admin::desks))
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::get))
        .route(
            "/api/v1/incidents/{id}/alerts/{alert_id}/snapshot",
            get(incidents::snapshot),
        )
        .route("/api/v1/incidents/{id}/ack", post(incidents::ack))
        .route("/api/v1/incidents/{id}/dispatch", post(incidents::dispatch))
        .route("/api/v1/incidents/{id}/close", post(incidents::close))
        .route("/api/v1/cameras", get(admin::cameras))
        .route("/api/v1/map", get(map::serve))
        .route("/api/v1/stats", get(admin::stats))
        .route(
            "/api/v1/duty-level",
            get(admin::get_duty).put(admin::put_duty),
        )
        .route(
            "/api/v1/silences",
            get(admin::list_silences).post(admin::add_silence),
        )
        .route("/api/v1/silences/{id}", delete(admin::expire_silence))
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .with_state(state)
}

/// Escalates overdue incidents every `period` and pushes them, until shutdown.
pub async fn run_escalation(store: Arc<dyn Store>, hub: Hub, period: Duration, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => return,
        }
        match store.escalate_due().await {
            Ok(changes) => {
                for c in changes {
                    tracing::warn!(incident = %c.incident.id, desk = %c.incident.desk_id,
                        waited_s = c.incident.escalation.as_ref().map(|e| e.waited_s),
                        "incident escalated to the centre");
                    ::metrics::counter!("xueliang_dispatcher_escalations_total").increment(1);
                    hub.publish(c);
                }
            }
            Err(e) => tracing::error!(error = %e, "escalation check failed; retrying next tick"),
        }
    }
}
