//! The SQLite backend: one connection on the store thread.
//!
//! Design decisions:
//! - **rusqlite (bundled SQLite), not sqlx.** SQLite calls block (fsync); the store thread
//!   keeps them off the tokio runtime, and a single writer connection is what SQLite
//!   serialises to anyway. rusqlite builds one C file instead of sqlx's ~60 crates.
//! - **WAL + `synchronous=FULL` by default.** The consumer stores a Kafka offset only after
//!   the batch's transaction returns, so a returned commit must survive power loss, not only a
//!   process kill: with `NORMAL` the last transactions may vanish on power loss after their
//!   offsets were committed, i.e. alerts lost for good. `FULL` costs one fsync per batch;
//!   batching makes that affordable. [`Synchronous::Normal`] is for benchmarks and scratch.
//! - **Migrations are embedded SQL files** (`dispatcher/migrations/NNNN_name.sql`, shared with PostgreSQL),
//!   applied in order, each in its own transaction together with `PRAGMA user_version`. A
//!   database newer than the build is refused rather than guessed at.
//! - **Checkpoints off the commit path.** SQLite's automatic WAL checkpoint runs inside the
//!   commit that crosses the threshold, and measured about half of the store thread's CPU under
//!   load (benches/RESULTS.md). A checkpointer thread with its own connection runs a PASSIVE
//!   checkpoint every [`CHECKPOINT_EVERY`] instead (it never blocks the writer); the writer's
//!   own auto-checkpoint stays as a safety net at a much larger WAL size.
//! - **Pages sized for alert rows** ([`PAGE_SIZE`], 16 KiB for new databases): an alert row
//!   is its JSON, ~2 KB; with 4 KiB pages each row filled a page alone and every alert wrote a
//!   whole page to the WAL.
//! - **A page cache that holds the hot indexes** ([`WRITER_CACHE_KIB`]). SQLite's default of
//!   2 MB made the writer re-read index pages from the OS cache (a `pread` each) once the
//!   alerts table outgrew it: kernel time on the store thread under load.
//! - The engine writes `$N` parameters; they become SQLite's `?N`, which bind by index whatever
//!   the order of first use (SQLite would number `$N` names by first appearance instead).

use super::sql::{Backend, Row, Tx, V};
use super::{SqlStore, StoreError, StoreOptions};
use rusqlite::{Connection, OptionalExtension, types::ValueRef};
use std::path::{Path, PathBuf};

/// Page size of new databases. An alert row is its JSON (~2 KB, 50+ KB with a snapshot): with
/// SQLite's default 4 KiB pages one 2 KB row fills a page and leaves the rest empty, so every
/// alert wrote a whole page to the WAL; 16 KiB pages hold seven. Existing databases keep theirs.
const PAGE_SIZE: u32 = 16 * 1024;

/// The writer's page cache in KiB (`PRAGMA cache_size=-N`): the incident and alert indexes of
/// a busy week stay in memory; the alert JSON itself is written once and rarely read.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// Migrations in order (version = index + 1); PostgreSQL runs them too (see `postgres.rs`).
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    ("alerts", include_str!("../../migrations/0001_alerts.sql")),
    (
        "incidents",
        include_str!("../../migrations/0002_incidents.sql"),
    ),
    (
        "alerts_rowid",
        include_str!("../../migrations/0003_alerts_rowid.sql"),
    ),
    (
        "consumer_offsets",
        include_str!("../../migrations/0004_consumer_offsets.sql"),
    ),
];

/// How SQLite syncs to disk on commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL on every commit: a committed batch survives power loss. Default.
    #[default]
    Full,
    /// Survives process crashes, not power loss. For benchmarks and scratch stores.
    Normal,
}

/// Opens SQLite stores.
pub struct SqliteStore;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: &Path, sync: Synchronous) -> Result<SqlStore, StoreError> {
        Self::open_with(path, sync, StoreOptions::default())
    }

    /// Opens (creating if needed) the database at `path`, in WAL mode, and applies pending
    /// migrations. Blocking: call it at start-up (or from `spawn_blocking`).
    pub fn open_with(
        path: &Path,
        sync: Synchronous,
        opts: StoreOptions,
    ) -> Result<SqlStore, StoreError> {
        let mut db = Sqlite::open(path, sync)?;
        db.migrate()?;
        SqlStore::spawn(db, opts)
    }
}

/// How often the checkpointer thread folds the WAL back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// The writer checkpoints by itself only past this many WAL pages (4 KiB each: 64 MiB).
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16_384;

struct Sqlite {
    conn: Connection,
    path: PathBuf,
    /// Tells the checkpointer thread to stop when the store goes away.
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Runs PASSIVE checkpoints on a second connection until `stop`.
fn spawn_checkpointer(
    path: &Path,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError::Open {
        what: path.display().to_string(),
        message: format!("checkpoint connection: {e}"),
        hint: "",
    })?;
    let shown = path.display().to_string();
    std::thread::Builder::new()
        .name("alert-store-ckpt".into())
        .spawn(move || {
            let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(path = %shown, error = %e, "WAL checkpoint failed; retrying");
                }
            }
        })
        .map_err(|e| StoreError::Open {
            what: path.display().to_string(),
            message: format!("cannot start the checkpoint thread: {e}"),
            hint: "",
        })?;
    Ok(())
}

impl Sqlite {
    fn open(path: &Path, sync: Synchronous) -> Result<Sqlite, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            what: path.display().to_string(),
            message: e.to_string(),
            hint: " and that its directory is writable",
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // Before anything that locks the file: another process opening it at the same moment
        // (a dispatcher starting while `users add` runs) then waits instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        // Only takes effect on a new, empty database (before WAL mode is set).
        conn.execute_batch(&format!("PRAGMA page_size={PAGE_SIZE}"))
            .map_err(open_err)?;
        // Switching a new file to WAL needs it exclusively, and SQLite answers BUSY at once
        // instead of waiting when another connection is opening it too: retry for as long as
        // the busy timeout would have waited.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mode: String = loop {
            match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)) {
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.map_err(open_err)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode");
        }
        let sync = match sync {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; \
             PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}; \
             PRAGMA cache_size=-{WRITER_CACHE_KIB};"
        ))
        .map_err(open_err)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        spawn_checkpointer(path, stop.clone())?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Sqlite {
            conn,
            path: path.to_owned(),
            stop,
        })
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let what = self.path.display().to_string();
        let current: u32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| StoreError::Open {
                what: what.clone(),
                message: e.to_string(),
                hint: "",
            })?;
        let known = MIGRATIONS.len() as u32;
        if current > known {
            return Err(StoreError::TooNew {
                what,
                found: current,
                known,
            });
        }
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as u32 + 1;
            let err = |e: rusqlite::Error| StoreError::Migrate {
                what: what.clone(),
                version,
                name,
                message: e.to_string(),
            };
            // Foreign keys off while the schema changes (a table rebuild drops a parent
            // table), checked before the commit instead — SQLite's documented procedure. The
            // pragma is a no-op inside a transaction, hence outside it.
            self.conn
                .execute_batch("PRAGMA foreign_keys=OFF")
                .map_err(err)?;
            // IMMEDIATE: the write lock from the start, so two processes opening a new file at
            // once (a dispatcher starting while `xueliang users add` runs) migrate one after
            // the other; the second finds the version already applied.
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            let now: u32 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(err)?;
            if now >= version {
                tx.commit().map_err(err)?;
                self.conn
                    .execute_batch("PRAGMA foreign_keys=ON")
                    .map_err(err)?;
                continue;
            }
            tx.execute_batch(sql).map_err(err)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()
                .map_err(err)?;
            if let Some(table) = broken {
                return Err(StoreError::Migrate {
                    what: what.clone(),
                    version,
                    name,
                    message: format!("leaves rows in {table} whose foreign key has no parent"),
                });
            }
            tx.execute_batch(&format!("PRAGMA user_version={version}"))
                .map_err(err)?;
            tx.commit().map_err(err)?;
            self.conn
                .execute_batch("PRAGMA foreign_keys=ON")
                .map_err(err)?;
            tracing::info!(path = %what, version, name, "alert database migrated");
        }
        Ok(())
    }
}

/// `$12` → `?12`. The engine's SQL never has `$` inside string literals.
fn rewrite(sql: &str) -> String {
    sql.replace('$', "?")
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    what: &'a str,
}

impl SqliteTx<'_> {
    fn err(&self, sql: &str, e: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            what: self.what.to_owned(),
            sql: sql.chars().take(80).collect(),
            message: e.to_string(),
        }
    }
}

/// Binds by reference: text (an alert's 2–50 KB JSON included) is not copied.
impl rusqlite::ToSql for V {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(match self {
            V::Null => ToSqlOutput::Owned(Value::Null),
            V::I(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            V::T(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            V::S(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[V]) -> Result<u64, StoreError> {
        let q = rewrite(sql);
        let mut stmt = self.tx.prepare_cached(&q).map_err(|e| self.err(sql, e))?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| self.err(sql, e))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[V]) -> Result<Vec<Row>, StoreError> {
        let q = rewrite(sql);
        let mut stmt = self.tx.prepare_cached(&q).map_err(|e| self.err(sql, e))?;
        let cols = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| self.err(sql, e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(sql, e))? {
            let mut row = Vec::with_capacity(cols);
            for i in 0..cols {
                row.push(match r.get_ref(i).map_err(|e| self.err(sql, e))? {
                    ValueRef::Null => V::Null,
                    ValueRef::Integer(i) => V::I(i),
                    ValueRef::Real(f) => V::I(f as i64),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        V::T(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(row);
        }
        Ok(out)
    }
}

impl Backend for Sqlite {
    fn transaction(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let what = self.path.display().to_string();
        let err = |e: rusqlite::Error| StoreError::Sql {
            what: what.clone(),
            sql: "BEGIN/COMMIT".into(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut t = SqliteTx {
                tx: &tx,
                what: &what,
            };
            f(&mut t)?;
        }
        // On error the transaction is dropped, which rolls it back.
        tx.commit().map_err(err)
    }

    fn describe(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}
