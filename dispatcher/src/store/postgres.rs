//! The PostgreSQL backend, for deployments that want the database on its own (replicated)
//! server. Same engine, same tests as SQLite.
//!
//! Design decisions:
//! - **The synchronous `postgres` client on the store thread**, mirroring SQLite's one-thread
//!   design, so that both backends run the identical engine code through [`Tx`]. The
//!   consumer batches alerts, so one connection keeps up (see benches/RESULTS.md).
//! - **Migrations under an advisory lock**, all pending ones in one transaction with the
//!   version row (PostgreSQL DDL is transactional): two dispatchers starting together cannot
//!   both migrate.
//! - Statements are prepared once per connection and cached. A broken connection is
//!   reopened on the next call; the failed call returns its error (the consumer retries).
//! - No TLS in this build: connect over loopback or a private network, or through a local
//!   TLS-terminating pooler.

use super::sql::{Backend, Row, Tx, V};
use super::sqlite::MIGRATIONS;
use super::{SqlStore, StoreError, StoreOptions};
use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;

/// Migrations whose SQL differs on PostgreSQL, by name: their own file beside SQLite's.
const POSTGRES_VARIANTS: &[(&str, &str)] = &[(
    "alerts_rowid",
    include_str!("../../migrations/0003_alerts_rowid.postgres.sql"),
)];

/// The same migrations as SQLite: the schema is written in the subset both run, and the one
/// SQLite-only clause (`WITHOUT ROWID`, a storage hint) is dropped here. A migration that
/// needs dialect-specific SQL has a `.postgres.sql` variant ([`POSTGRES_VARIANTS`]).
fn migration_sql(name: &str, sqlite: &str) -> String {
    match POSTGRES_VARIANTS.iter().find(|(n, _)| *n == name) {
        Some((_, sql)) => (*sql).to_owned(),
        None => sqlite.replace(" WITHOUT ROWID", ""),
    }
}

/// Arbitrary, fixed: the advisory lock key that serialises migrations.
const MIGRATION_LOCK: i64 = 0x78_75_65_6c_69_61_6e_67; // "xueliang"

/// Opens PostgreSQL stores.
pub struct PostgresStore;

impl PostgresStore {
    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`), applies pending
    /// migrations and starts the store thread. Blocking: call it at start-up.
    pub fn open(url: &str, opts: StoreOptions) -> Result<SqlStore, StoreError> {
        Self::open_config(super::postgres_config(url, None)?, opts)
    }

    /// [`PostgresStore::open`] with a client configuration (a password set apart from the URL).
    pub fn open_config(
        config: postgres::Config,
        opts: StoreOptions,
    ) -> Result<SqlStore, StoreError> {
        let what = describe(&config);
        SqlStore::spawn_with(
            move || {
                let mut pg = Pg {
                    client: connect(&config, &what)?,
                    config,
                    what,
                    statements: HashMap::new(),
                };
                pg.migrate()?;
                Ok(pg)
            },
            opts,
        )
    }
}

/// `postgres://user@host:port/db`, without the password.
fn describe(c: &postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().unwrap_or("")
    )
}

/// The server's own message when there is one: `postgres::Error`'s Display says only "db
/// error" for every error the server reports.
fn detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn connect(c: &postgres::Config, what: &str) -> Result<Client, StoreError> {
    let mut client = c.connect(NoTls).map_err(|e| StoreError::Open {
        what: what.to_owned(),
        message: detail(&e),
        hint: ": is the server running and the user allowed to connect?",
    })?;
    // Statements are prepared once per connection, and PostgreSQL switches a prepared
    // statement to a generic plan after five runs, planned with the statistics of that moment:
    // on a store that started empty, the batch's id probe kept a sequential scan of `alerts`
    // (10–15 ms per run at a few thousand rows; benches/RESULTS.md). Planning each run costs
    // tens of microseconds and always sees the index.
    client
        .batch_execute("SET plan_cache_mode = force_custom_plan")
        .map_err(|e| StoreError::Open {
            what: what.to_owned(),
            message: detail(&e),
            hint: ": the server must be PostgreSQL 12 or newer",
        })?;
    Ok(client)
}

struct Pg {
    client: Client,
    config: postgres::Config,
    what: String,
    statements: HashMap<String, Statement>,
}

impl Pg {
    fn migrate(&mut self) -> Result<(), StoreError> {
        let what = self.what.clone();
        let err = |version: u32, name: &'static str| {
            let what = what.clone();
            move |e: postgres::Error| StoreError::Migrate {
                what: what.clone(),
                version,
                name,
                message: detail(&e),
            }
        };
        let mut tx = self.client.transaction().map_err(err(0, "lock"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(err(0, "lock"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS xueliang_schema (version BIGINT NOT NULL); \
             INSERT INTO xueliang_schema (version) \
             SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM xueliang_schema)",
        )
        .map_err(err(0, "schema table"))?;
        let current: i64 = tx
            .query_one("SELECT version FROM xueliang_schema", &[])
            .map_err(err(0, "schema table"))?
            .get(0);
        let known = MIGRATIONS.len() as u32;
        if current as u32 > known {
            return Err(StoreError::TooNew {
                what,
                found: current as u32,
                known,
            });
        }
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as u32 + 1;
            tx.batch_execute(&migration_sql(name, sql))
                .map_err(err(version, name))?;
            tx.execute(
                "UPDATE xueliang_schema SET version = $1",
                &[&(version as i64)],
            )
            .map_err(err(version, name))?;
            tracing::info!(db = %what, version, name, "alert database migrated");
        }
        tx.commit().map_err(err(known, "commit"))
    }
}

impl ToSql for V {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            V::Null => Ok(IsNull::Yes),
            V::I(i) => match *ty {
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            V::T(s) => s.to_sql(ty, out),
            V::S(s) => s.as_ref().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty)
            || <i32 as ToSql>::accepts(ty)
            || <i16 as ToSql>::accepts(ty)
            || <String as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

fn read(row: &postgres::Row, i: usize) -> Result<V, postgres::Error> {
    Ok(match *row.columns()[i].type_() {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(V::Null, V::I),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(V::Null, |v| V::I(v as i64)),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(V::Null, |v| V::I(v as i64)),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(V::Null, |v| V::I(v as i64)),
        _ => row.try_get::<_, Option<String>>(i)?.map_or(V::Null, V::T),
    })
}

struct PgTx<'a, 'c> {
    tx: &'a mut postgres::Transaction<'c>,
    statements: &'a mut HashMap<String, Statement>,
    what: &'a str,
}

impl PgTx<'_, '_> {
    fn err(&self, sql: &str, e: postgres::Error) -> StoreError {
        StoreError::Sql {
            what: self.what.to_owned(),
            sql: sql.chars().take(80).collect(),
            message: detail(&e),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(|e| self.err(sql, e))?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

fn params(p: &[V]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Tx for PgTx<'_, '_> {
    fn exec(&mut self, sql: &str, p: &[V]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        self.tx
            .execute(&st, &params(p))
            .map_err(|e| self.err(sql, e))
    }

    fn query(&mut self, sql: &str, p: &[V]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        let rows = self
            .tx
            .query(&st, &params(p))
            .map_err(|e| self.err(sql, e))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| read(r, i))
                    .collect::<Result<Row, _>>()
                    .map_err(|e| self.err(sql, e))
            })
            .collect()
    }
}

impl Backend for Pg {
    fn transaction(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if self.client.is_closed() {
            tracing::warn!(db = %self.what, "PostgreSQL connection lost; reconnecting");
            self.client = connect(&self.config, &self.what)?;
            self.statements.clear();
        }
        let what = self.what.clone();
        let err = |e: postgres::Error| StoreError::Sql {
            what: what.clone(),
            sql: "BEGIN/COMMIT".into(),
            message: detail(&e),
        };
        let mut tx = self.client.transaction().map_err(err)?;
        {
            let mut t = PgTx {
                tx: &mut tx,
                statements: &mut self.statements,
                what: &what,
            };
            f(&mut t)?;
        }
        tx.commit().map_err(err)
    }

    fn describe(&self) -> String {
        self.what.clone()
    }

    fn shared(&self) -> bool {
        true
    }
}
