//! Durable alert storage behind a trait, with SQLite as the embedded default.
//!
//! Design decisions:
//! - **The alert id is the idempotency key.** Inserting an alert that is already stored is a
//!   no-op that reports `new: false`; Kafka redelivery (after a crash, a rebalance or a retry)
//!   therefore never creates a second row, and the consumer counts it as a duplicate.
//! - **Batches, one transaction each.** [`Store::insert_batch`] persists a whole poll batch
//!   in one transaction (one fsync), which is what makes per-alert durability affordable; the
//!   consumer stores the Kafka offsets of the batch only after it returns `Ok`.
//! - **Object-safe async trait.** Methods return boxed futures so the dispatcher can hold an
//!   `Arc<dyn Store>` and PostgreSQL can come later behind the same trait without touching
//!   the consumer.
//! - The routing decision is stored with the alert (primary desk on the alert row, every desk
//!   with its role in `alert_routes`), so a desk's queue is one indexed query.

mod sqlite;

pub use sqlite::{SqliteStore, Synchronous};

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use uuid::Uuid;
use xueliang_core::DeskId;
use xueliang_core::contract::AlertV1;

use crate::routing::RouteDecision;

/// A boxed, sendable future, so that [`Store`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Outcome of inserting one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// `false` when an alert with this id was already stored (nothing was written).
    pub new: bool,
}

/// One alert with the decision that routed it, ready to persist.
#[derive(Debug, Clone)]
pub struct AlertRecord {
    pub alert: AlertV1,
    pub route: RouteDecision,
}

/// Whether a desk owns an alert or got a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteRole {
    Primary,
    Copy,
}

impl RouteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteRole::Primary => "primary",
            RouteRole::Copy => "copy",
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
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// Every desk the alert went to, primary first.
    pub routes: Vec<(DeskId, RouteRole)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the alert database {path}: {source} (check `dispatcher.database` and that the directory is writable)"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("migration {version} ({name}) of {path} failed: {source}")]
    Migrate {
        path: PathBuf,
        version: u32,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error(
        "the alert database {path} has schema version {found}, newer than this build knows ({known}); run a newer xueliang or point `dispatcher.database` elsewhere"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("alert database {path}: {op} failed: {source}")]
    Sql {
        path: PathBuf,
        op: &'static str,
        source: rusqlite::Error,
    },
    #[error("alert database {path}: stored row for alert {alert_id} is corrupt: {detail}")]
    Corrupt {
        path: PathBuf,
        alert_id: String,
        detail: String,
    },
    #[error("the alert database thread has stopped")]
    Closed,
}

/// Durable alert storage.
pub trait Store: Send + Sync + 'static {
    /// Persists a batch in one transaction: either every alert of the batch is durable when
    /// this returns `Ok`, or none was written. Results are in input order. An alert id that is
    /// already stored (or appears twice in the batch) yields `new: false`.
    fn insert_batch(
        &self,
        batch: Vec<AlertRecord>,
    ) -> BoxFuture<'_, Result<Vec<Inserted>, StoreError>>;

    /// Persists one alert (a batch of one).
    fn insert_alert<'a>(
        &'a self,
        alert: &AlertV1,
        route: &RouteDecision,
    ) -> BoxFuture<'a, Result<Inserted, StoreError>> {
        let rec = AlertRecord {
            alert: alert.clone(),
            route: route.clone(),
        };
        Box::pin(async move {
            let mut v = self.insert_batch(vec![rec]).await?;
            Ok(v.pop().unwrap_or(Inserted { new: false }))
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
}
