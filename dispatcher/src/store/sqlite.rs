//! SQLite implementation of [`Store`]: one connection owned by one dedicated thread.
//!
//! Design decisions:
//! - **rusqlite (bundled SQLite) on a thread, not sqlx.** SQLite calls block (fsync); a
//!   dedicated thread keeps them off the tokio runtime, and a single writer connection is what
//!   SQLite serialises to anyway. rusqlite builds one C file instead of sqlx's ~60 crates on a
//!   2-core build machine. PostgreSQL comes later behind the same [`Store`] trait.
//! - **WAL + `synchronous=FULL` by default.** The consumer stores a Kafka offset only after
//!   the batch's transaction returns, so a returned commit must survive power loss, not only a
//!   process kill: WAL with `NORMAL` survives `kill -9` but may lose the last transactions on
//!   power loss, after the offset was committed, i.e. alerts would be lost for good. `FULL`
//!   costs one fsync per batch; batching makes that affordable. [`Synchronous::Normal`] is
//!   there for benchmarks and throwaway stores.
//! - **Migrations are embedded SQL files** (`dispatcher/migrations/NNNN_name.sql`), applied
//!   in order, each in its own transaction together with bumping `PRAGMA user_version`. A
//!   database newer than the build is refused rather than guessed at.
//! - Requests queue on a bounded channel (backpressure to the consumer, nothing dropped).

use super::{AlertRecord, BoxFuture, Inserted, RouteRole, Store, StoreError, StoredAlert};
use crate::routing::RouteDecision;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;
use uuid::Uuid;
use xueliang_core::DeskId;
use xueliang_core::contract::AlertV1;

/// Migrations in order; the version of each is its index + 1.
const MIGRATIONS: &[(&str, &str)] = &[("alerts", include_str!("../../migrations/0001_alerts.sql"))];

/// Requests waiting for the database thread.
const QUEUE: usize = 64;

/// How SQLite syncs to disk on commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL on every commit: a committed batch survives power loss. Default.
    #[default]
    Full,
    /// Survives process crashes, not power loss. For benchmarks and scratch stores.
    Normal,
}

enum Request {
    Insert(
        Vec<AlertRecord>,
        oneshot::Sender<Result<Vec<Inserted>, StoreError>>,
    ),
    Count(oneshot::Sender<Result<u64, StoreError>>),
    Get(
        Uuid,
        oneshot::Sender<Result<Option<StoredAlert>, StoreError>>,
    ),
    ForDesk(
        DeskId,
        usize,
        oneshot::Sender<Result<Vec<StoredAlert>, StoreError>>,
    ),
}

/// The SQLite store. Dropping it (every clone of the `Arc` holding it) stops its thread after
/// the queued requests.
#[derive(Debug)]
pub struct SqliteStore {
    tx: mpsc::SyncSender<Request>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and applies pending
    /// migrations. Blocking: call it at start-up (or from `spawn_blocking`).
    pub fn open(path: &Path, sync: Synchronous) -> Result<SqliteStore, StoreError> {
        let mut db = Db::open(path, sync)?;
        db.migrate()?;
        let (tx, rx) = mpsc::sync_channel::<Request>(QUEUE);
        std::thread::Builder::new()
            .name("alert-store".into())
            .spawn(move || {
                while let Ok(req) = rx.recv() {
                    db.serve(req);
                }
            })
            .map_err(|e| StoreError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        Ok(SqliteStore {
            tx,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn call<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        Box::pin(async move {
            let (otx, orx) = oneshot::channel();
            let req = make(otx);
            // The queue is bounded: when the thread is behind, wait for room without blocking
            // the runtime.
            let tx = self.tx.clone();
            tokio::task::spawn_blocking(move || tx.send(req))
                .await
                .map_err(|_| StoreError::Closed)?
                .map_err(|_| StoreError::Closed)?;
            orx.await.map_err(|_| StoreError::Closed)?
        })
    }
}

impl Store for SqliteStore {
    fn insert_batch(
        &self,
        batch: Vec<AlertRecord>,
    ) -> BoxFuture<'_, Result<Vec<Inserted>, StoreError>> {
        self.call(move |tx| Request::Insert(batch, tx))
    }

    fn alert_count(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.call(Request::Count)
    }

    fn get_alert(&self, id: Uuid) -> BoxFuture<'_, Result<Option<StoredAlert>, StoreError>> {
        self.call(move |tx| Request::Get(id, tx))
    }

    fn alerts_for_desk(
        &self,
        desk: &DeskId,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredAlert>, StoreError>> {
        let desk = desk.clone();
        self.call(move |tx| Request::ForDesk(desk, limit, tx))
    }
}

/// The connection, owned by the store thread.
struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    fn open(path: &Path, sync: Synchronous) -> Result<Db, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode");
        }
        let sync = match sync {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;"
        ))
        .map_err(open_err)?;
        Ok(Db {
            conn,
            path: path.to_owned(),
        })
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let current: u32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        let known = MIGRATIONS.len() as u32;
        if current > known {
            return Err(StoreError::TooNew {
                path,
                found: current,
                known,
            });
        }
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as u32 + 1;
            let err = |source| StoreError::Migrate {
                path: path.clone(),
                version,
                name,
                source,
            };
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.execute_batch(&format!("PRAGMA user_version={version}"))
                .map_err(err)?;
            tx.commit().map_err(err)?;
            tracing::info!(path = %path.display(), version, name, "alert database migrated");
        }
        Ok(())
    }

    fn serve(&mut self, req: Request) {
        // A dropped receiver means the caller gave up (e.g. shutdown); nothing to do.
        match req {
            Request::Insert(batch, tx) => {
                let _ = tx.send(self.insert(&batch));
            }
            Request::Count(tx) => {
                let _ = tx.send(self.count());
            }
            Request::Get(id, tx) => {
                let _ = tx.send(self.get(id));
            }
            Request::ForDesk(desk, limit, tx) => {
                let _ = tx.send(self.for_desk(&desk, limit));
            }
        }
    }

    fn sql_err(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sql {
            path: self.path.clone(),
            op,
            source,
        }
    }

    fn insert(&mut self, batch: &[AlertRecord]) -> Result<Vec<Inserted>, StoreError> {
        let path = self.path.clone();
        let err = move |source| StoreError::Sql {
            path: path.clone(),
            op: "insert alerts",
            source,
        };
        let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let tx = self.conn.transaction().map_err(&err)?;
        let mut out = Vec::with_capacity(batch.len());
        {
            let mut alert_stmt = tx
                .prepare_cached(
                    "INSERT INTO alerts (alert_id, camera_id, event_type, severity, rule_id, \
                     captured_at, received_at, desk_id, route_reason, jurisdiction, grid, json) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                     ON CONFLICT (alert_id) DO NOTHING",
                )
                .map_err(&err)?;
            let mut route_stmt = tx
                .prepare_cached(
                    "INSERT INTO alert_routes (alert_id, desk_id, role) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                )
                .map_err(&err)?;
            for rec in batch {
                let a = &rec.alert;
                let id = a.alert_id.to_string();
                let json = String::from_utf8(a.to_json()).expect("serde_json writes UTF-8");
                let n = alert_stmt
                    .execute(params![
                        id,
                        a.camera_id.as_str(),
                        a.event_type.as_str(),
                        a.severity.as_str(),
                        a.rule_id,
                        a.captured_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        received_at,
                        rec.route.primary.as_str(),
                        rec.route.reason.as_str(),
                        rec.route.jurisdiction,
                        rec.route.grid,
                        json,
                    ])
                    .map_err(&err)?;
                let new = n == 1;
                if new {
                    insert_routes(&mut route_stmt, &id, &rec.route).map_err(&err)?;
                }
                out.push(Inserted { new });
            }
        }
        tx.commit().map_err(&err)?;
        Ok(out)
    }

    fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.sql_err("count alerts"))
    }

    fn get(&self, id: Uuid) -> Result<Option<StoredAlert>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("{SELECT_ALERT} WHERE alert_id = ?1"),
                [id.to_string()],
                Row::read,
            )
            .optional()
            .map_err(self.sql_err("get alert"))?;
        row.map(|r| self.finish(r)).transpose()
    }

    fn for_desk(&self, desk: &DeskId, limit: usize) -> Result<Vec<StoredAlert>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "{SELECT_ALERT} WHERE alert_id IN \
                 (SELECT alert_id FROM alert_routes WHERE desk_id = ?1) \
                 ORDER BY alert_id DESC LIMIT ?2"
            ))
            .map_err(self.sql_err("alerts for desk"))?;
        let rows = stmt
            .query_map(params![desk.as_str(), limit as i64], Row::read)
            .map_err(self.sql_err("alerts for desk"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql_err("alerts for desk"))?;
        rows.into_iter().map(|r| self.finish(r)).collect()
    }

    /// Decodes a row and reads its routes.
    fn finish(&self, r: Row) -> Result<StoredAlert, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            path: self.path.clone(),
            alert_id: r.alert_id.clone(),
            detail,
        };
        let alert = AlertV1::from_json(r.json.as_bytes()).map_err(|e| corrupt(e.to_string()))?;
        let desk_id = DeskId::new(r.desk_id.clone()).map_err(|e| corrupt(e.to_string()))?;
        let received_at = chrono::DateTime::parse_from_rfc3339(&r.received_at)
            .map_err(|e| corrupt(format!("received_at: {e}")))?
            .with_timezone(&chrono::Utc);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT desk_id, role FROM alert_routes WHERE alert_id = ?1 \
                 ORDER BY role = 'copy', desk_id",
            )
            .map_err(self.sql_err("read routes"))?;
        let pairs = stmt
            .query_map([&r.alert_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(self.sql_err("read routes"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql_err("read routes"))?;
        let mut routes = Vec::with_capacity(pairs.len());
        for (d, role) in pairs {
            let d = DeskId::new(d).map_err(|e| corrupt(e.to_string()))?;
            let role = match role.as_str() {
                "primary" => RouteRole::Primary,
                _ => RouteRole::Copy,
            };
            routes.push((d, role));
        }
        Ok(StoredAlert {
            alert,
            desk_id,
            route_reason: r.route_reason,
            jurisdiction: r.jurisdiction,
            grid: r.grid,
            received_at,
            routes,
        })
    }
}

const SELECT_ALERT: &str = "SELECT alert_id, desk_id, route_reason, jurisdiction, grid, \
                            received_at, json FROM alerts";

struct Row {
    alert_id: String,
    desk_id: String,
    route_reason: String,
    jurisdiction: Option<String>,
    grid: Option<String>,
    received_at: String,
    json: String,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            alert_id: r.get(0)?,
            desk_id: r.get(1)?,
            route_reason: r.get(2)?,
            jurisdiction: r.get(3)?,
            grid: r.get(4)?,
            received_at: r.get(5)?,
            json: r.get(6)?,
        })
    }
}

fn insert_routes(
    stmt: &mut rusqlite::CachedStatement<'_>,
    id: &str,
    route: &RouteDecision,
) -> rusqlite::Result<()> {
    stmt.execute(params![
        id,
        route.primary.as_str(),
        RouteRole::Primary.as_str()
    ])?;
    for c in &route.copies {
        stmt.execute(params![id, c.as_str(), RouteRole::Copy.as_str()])?;
    }
    Ok(())
}
