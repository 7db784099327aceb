//! Durable storage of alerts and the incidents they form, behind one trait, with SQLite (the
//! embedded default) and PostgreSQL backends.
//!
//! Design decisions:
//! - **The alert id is the idempotency key.** Inserting an alert that is already stored is a
//!   no-op that reports `new: false`; Kafka redelivery (after a crash, a rebalance or a retry)
//!   therefore never creates a second row, never counts twice in an incident, and the consumer
//!   counts it as a duplicate.
//! - **Grouping happens in the insert transaction.** A new alert joins the open incident of
//!   the same camera and event type whose alerts lie within the grouping window, or opens a
//!   new one; alert, routes and incident commit together (one fsync per poll batch), so a
//!   crash can never leave an alert outside an incident.
//! - **One implementation, two databases.** The logic lives in `engine/`, written against the
//!   small [`sql::Tx`] seam in SQL both databases run; `sqlite.rs` and `postgres.rs` only open
//!   connections and migrate. Each backend runs on one dedicated thread fed by a bounded
//!   queue ([`worker`]), which keeps blocking I/O off the async runtime and gives the
//!   consumer backpressure instead of drops.
//! - **Every state change is a compare-and-set** (`UPDATE … WHERE state = $old`), so two
//!   operators, or an operator and the escalation timer, cannot both win.
//! - **Object-safe async trait.** Methods return boxed futures so callers hold an
//!   `Arc<dyn Store>`.

mod engine;
mod postgres;
pub mod sql;
mod sqlite;
mod worker;

pub use engine::offsets::PartitionOffset;
pub use engine::{
    Action, Actor, CameraHealthRow, ChangeKind, DeskStats, IncidentChange, IncidentFilter,
    NewSilence, Silence, SilenceScope, User, UserRecord,
};
pub use postgres::PostgresStore;
pub use sqlite::{SqliteStore, Synchronous};
pub use worker::SqlStore;
use xueliang_core::config::Secret;

use crate::clock::{Clock, SystemClock};
use crate::policy::Policy;
use crate::routing::RouteDecision;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;
use xueliang_core::DeskId;
use xueliang_core::contract::{AlertV1, DutyLevel, IncidentV1};

/// An incident with the desks it is routed to and each desk's role.
pub type IncidentWithDesks = (IncidentV1, Vec<(DeskId, RouteRole)>);

/// A boxed, sendable future, so that [`Store`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Outcome of inserting one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Inserted {
    /// `false` when an alert with this id was already stored (nothing was written).
    pub new: bool,
    /// The incident the alert opened or joined (only for new alerts).
    pub incident: Option<IncidentChange>,
}

/// One alert with the decision that routed it, ready to persist.
#[derive(Debug, Clone)]
pub struct AlertRecord {
    pub alert: AlertV1,
    pub route: RouteDecision,
    /// The alert's JSON exactly as received, when it came off the wire (stored verbatim:
    /// what the analyzer sent, and no re-serialisation); `None`: serialise `alert`.
    pub json: Option<Arc<str>>,
}

impl AlertRecord {
    /// A record without the received JSON (the store serialises the alert).
    pub fn new(alert: AlertV1, route: RouteDecision) -> AlertRecord {
        AlertRecord {
            alert,
            route,
            json: None,
        }
    }
}

/// Whether a desk owns an alert or incident, got a copy, or had it escalated to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteRole {
    Primary,
    Copy,
    Escalation,
}

impl RouteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteRole::Primary => "primary",
            RouteRole::Copy => "copy",
            RouteRole::Escalation => "escalation",
        }
    }

    pub fn parse(s: &str) -> RouteRole {
        match s {
            "primary" => RouteRole::Primary,
            "escalation" => RouteRole::Escalation,
            _ => RouteRole::Copy,
        }
    }
}

/// An alert as read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub alert: AlertV1,
    /// The primary desk.
    pub desk_id: DeskId,
    /// Label of the routing reason (`RouteReason::as_str`).
    pub route_reason: String,
    pub jurisdiction: Option<String>,
    pub grid: Option<String>,
    /// When this dispatcher persisted it.
    pub received_at: DateTime<Utc>,
    /// Every desk the alert went to, primary first.
    pub routes: Vec<(DeskId, RouteRole)>,
    /// The incident it belongs to.
    pub incident_id: Option<Uuid>,
}

/// What the store needs besides a connection.
#[derive(Clone)]
pub struct StoreOptions {
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the alert database {what}: {message} (check `dispatcher.database`{hint})")]
    Open {
        what: String,
        message: String,
        hint: &'static str,
    },
    #[error("migration {version} ({name}) of {what} failed: {message}")]
    Migrate {
        what: String,
        version: u32,
        name: &'static str,
        message: String,
    },
    #[error(
        "the alert database {what} has schema version {found}, newer than this build knows ({known}); run a newer xueliang or point `dispatcher.database` elsewhere"
    )]
    TooNew {
        what: String,
        found: u32,
        known: u32,
    },
    #[error("alert database {what}: `{sql}` failed: {message}")]
    Sql {
        what: String,
        sql: String,
        message: String,
    },
    #[error("alert database: stored {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The request names something that does not exist (or the caller may not see).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (e.g. acknowledging a closed incident).
    #[error("{0}")]
    Conflict(String),
    #[error("the alert database thread has stopped")]
    Closed,
}

impl StoreError {
    pub fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            what,
            detail: detail.into(),
        }
    }
}

/// Durable storage of alerts, incidents, silences, the duty level, users and sessions.
pub trait Store: Send + Sync + 'static {
    /// Persists a batch in one transaction: either every alert of the batch (and the incident
    /// it opened or joined) is durable when this returns `Ok`, or none was written. Results
    /// are in input order. An alert id that is already stored (or appears twice in the
    /// batch) yields `new: false`.
    /// The batch is shared, not moved: a failed attempt is retried with the same records.
    fn insert_batch(
        &self,
        batch: Arc<[AlertRecord]>,
    ) -> BoxFuture<'_, Result<Vec<Inserted>, StoreError>> {
        self.insert_batch_at(batch, Arc::from([]))
    }

    /// [`insert_batch`](Store::insert_batch), and in the same transaction moves the
    /// consumer's stored position of each partition forward to `offsets` (the next offset
    /// after the batch). Whoever reads those partitions next starts there.
    fn insert_batch_at(
        &self,
        batch: Arc<[AlertRecord]>,
        offsets: Arc<[PartitionOffset]>,
    ) -> BoxFuture<'_, Result<Vec<Inserted>, StoreError>>;

    /// The consumer's stored positions on `topic`, by partition (absent: never read).
    fn consumer_offsets(
        &self,
        topic: &str,
    ) -> BoxFuture<'_, Result<std::collections::HashMap<i32, i64>, StoreError>>;

    /// Whether several dispatcher processes may share this store (PostgreSQL: yes; an SQLite
    /// file belongs to one process).
    fn shared(&self) -> bool;

    /// Persists one alert (a batch of one).
    fn insert_alert<'a>(
        &'a self,
        alert: &AlertV1,
        route: &RouteDecision,
    ) -> BoxFuture<'a, Result<Inserted, StoreError>> {
        let rec = AlertRecord::new(alert.clone(), route.clone());
        Box::pin(async move {
            let mut v = self.insert_batch(Arc::from([rec])).await?;
            Ok(v.pop().unwrap_or(Inserted {
                new: false,
                incident: None,
            }))
        })
    }

    /// Number of stored alerts.
    fn alert_count(&self) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// One alert by id.
    fn get_alert(&self, id: Uuid) -> BoxFuture<'_, Result<Option<StoredAlert>, StoreError>>;

    /// The newest `limit` alerts routed to `desk` (as primary or copy), newest first.
    fn alerts_for_desk(
        &self,
        desk: &DeskId,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredAlert>, StoreError>>;

    /// Every alert of an incident, oldest first.
    fn incident_alerts(&self, id: Uuid) -> BoxFuture<'_, Result<Vec<StoredAlert>, StoreError>>;

    /// One incident with its alert ids and history, and the desks it was routed to.
    fn get_incident(
        &self,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Option<IncidentWithDesks>, StoreError>>;

    /// Incidents matching `filter`, most urgent first (priority, then oldest first), without
    /// history.
    fn list_incidents(
        &self,
        filter: IncidentFilter,
    ) -> BoxFuture<'_, Result<Vec<IncidentV1>, StoreError>>;

    /// Applies an operator's action (acknowledge, dispatch, close) if the lifecycle allows it;
    /// audited with who, when and from where.
    fn act(
        &self,
        id: Uuid,
        action: Action,
        actor: Actor,
    ) -> BoxFuture<'_, Result<IncidentChange, StoreError>>;

    /// Escalates every new, unsilenced incident whose acknowledgement SLA has passed.
    fn escalate_due(&self) -> BoxFuture<'_, Result<Vec<IncidentChange>, StoreError>>;

    fn duty_level(&self) -> BoxFuture<'_, Result<DutyLevel, StoreError>>;

    /// Sets the duty level and re-prioritises open incidents; returns those that changed.
    fn set_duty_level(
        &self,
        level: DutyLevel,
        actor: Actor,
    ) -> BoxFuture<'_, Result<Vec<IncidentChange>, StoreError>>;

    fn add_silence(
        &self,
        s: NewSilence,
        actor: Actor,
    ) -> BoxFuture<'_, Result<Silence, StoreError>>;
    /// Silences that have not ended yet.
    fn list_silences(&self) -> BoxFuture<'_, Result<Vec<Silence>, StoreError>>;
    /// Ends a silence now; `false` if there was none with this id.
    fn expire_silence(&self, id: Uuid, actor: Actor) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Per-desk counts for the centre view.
    fn desk_stats(&self) -> BoxFuture<'_, Result<Vec<DeskStats>, StoreError>>;
    /// Cameras with an open camera-fault incident.
    fn camera_faults(&self) -> BoxFuture<'_, Result<Vec<CameraHealthRow>, StoreError>>;

    /// Creates or (with `replace`) updates a user.
    fn put_user(&self, user: UserRecord, replace: bool) -> BoxFuture<'_, Result<(), StoreError>>;
    fn get_user(&self, username: &str) -> BoxFuture<'_, Result<Option<UserRecord>, StoreError>>;
    fn list_users(&self) -> BoxFuture<'_, Result<Vec<User>, StoreError>>;
    fn create_session(
        &self,
        token_hash: String,
        username: String,
        csrf: String,
        expires_at: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The user and CSRF token of an unexpired session.
    fn session(
        &self,
        token_hash: &str,
    ) -> BoxFuture<'_, Result<Option<(User, String)>, StoreError>>;
    fn delete_session(&self, token_hash: &str) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Where the data lives, for logs (never with a password).
    fn describe(&self) -> String;
}

/// The PostgreSQL password of `dispatcher.database_password_env`, read from the environment
/// (`None` when no variable is configured); an error names the variable that is missing.
pub fn database_password(
    d: &xueliang_core::config::DispatcherConfig,
) -> Result<Option<Secret>, StoreError> {
    let Some(var) = &d.database_password_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Ok(Some(Secret::new(p))),
        _ => Err(StoreError::Open {
            what: "the PostgreSQL database".into(),
            message: format!(
                "environment variable {var} (dispatcher.database_password_env) is not set"
            ),
            hint: ": export the password in that variable (from a Secret) before starting",
        }),
    }
}

/// A `postgres://` URL as a client configuration, with `password` (from the environment)
/// when given.
pub fn postgres_config(
    url: &str,
    password: Option<&Secret>,
) -> Result<::postgres::Config, StoreError> {
    let mut config: ::postgres::Config = url.parse().map_err(|e| StoreError::Open {
        what: "the postgres:// URL".into(),
        message: format!("{e}"),
        hint: ": postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
    })?;
    if let Some(p) = password {
        config.password(p.expose());
    }
    Ok(config)
}

/// Opens the store named by `dispatcher.database`: `sqlite://PATH` (relative to `data_dir`)
/// or `postgres://…` (with `password`, from `dispatcher.database_password_env`). Blocking:
/// call at start-up.
pub fn open(
    url: &str,
    password: Option<&Secret>,
    data_dir: &std::path::Path,
    opts: StoreOptions,
) -> Result<SqlStore, StoreError> {
    if let Some(rel) = url.strip_prefix("sqlite://") {
        SqliteStore::open_with(&data_dir.join(rel), Synchronous::Full, opts)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        PostgresStore::open_config(postgres_config(url, password)?, opts)
    } else {
        Err(StoreError::Open {
            what: url.to_owned(),
            message: "unknown scheme".into(),
            hint: ": use sqlite://PATH or postgres://USER@HOST/DB",
        })
    }
}
