//! Throwaway PostgreSQL databases for tests and benchmarks: [`TempDatabase`] creates a
//! uniquely named, empty database on the server named by `$XUELIANG_TEST_PG` (an admin URL;
//! `./xl test` and `./xl pg` start a throwaway server on 127.0.0.1:55432 and set it), hands out
//! its URL, and drops it (`WITH (FORCE)`, so connections still open do not keep it) when
//! dropped.
//!
//! Without `XUELIANG_TEST_PG`, [`TempDatabase::create`] fails with the fix, like the test
//! broker does. Test suites that run every backend and deliberately skip PostgreSQL when no
//! server is configured use [`TempDatabase::create_or_skip`]: it skips with a note, except
//! under CI (`$CI` set), where a missing server is a failure.
//!
//! The synchronous `postgres` client starts its own async runtime, which tokio forbids inside
//! another one; every statement here therefore runs on a plain thread of its own, so these
//! functions (and the drop) may be called from `#[tokio::test]`s and async code alike.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming the test server: an admin URL such as
/// `postgres://xueliang@127.0.0.1:55432/postgres`.
pub const ENV: &str = "XUELIANG_TEST_PG";

/// The test server's admin URL, or what to do to get one.
pub fn admin_url() -> Result<String, String> {
    match std::env::var(ENV) {
        Ok(u) if !u.trim().is_empty() => Ok(u),
        _ => Err(format!(
            "{ENV} is not set: it names the PostgreSQL server (an admin URL) on which tests \
             create throwaway databases. Run the tests with ./xl test, or start a server with \
             `eval \"$(./xl pg)\"` (127.0.0.1:55432; `eval \"$(./xl env)\"` prints it when one \
             runs)"
        )),
    }
}

/// A fresh, empty database, dropped when this value is.
#[derive(Debug)]
pub struct TempDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TempDatabase {
    /// A fresh database on `$XUELIANG_TEST_PG`'s server; panics with the fix when the variable
    /// is missing or the server cannot be reached.
    pub fn create() -> TempDatabase {
        Self::try_create().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`create`](Self::create) for tools that report errors instead of panicking.
    pub fn try_create() -> Result<TempDatabase, String> {
        Self::create_on(&admin_url()?, "test")
    }

    /// For suites that test PostgreSQL beside another backend: a fresh database when
    /// `$XUELIANG_TEST_PG` is set, otherwise `None` with a note on stderr, except under CI
    /// (`$CI` set), where the missing server fails the test.
    pub fn create_or_skip() -> Option<TempDatabase> {
        match admin_url() {
            Ok(admin) => Some(Self::create_on(&admin, "test").unwrap_or_else(|e| panic!("{e}"))),
            Err(fix) => {
                assert!(std::env::var_os("CI").is_none(), "under CI: {fix}");
                eprintln!("{ENV} not set: PostgreSQL backend not tested in this run");
                None
            }
        }
    }

    /// A fresh database on the server of `admin` (an admin URL, or a `key=value` connection
    /// string). `label` (letters, digits, `_`) goes into the name, e.g. `bench_stage`, so that
    /// a leftover database says where it came from.
    pub fn create_on(admin: &str, label: &str) -> Result<TempDatabase, String> {
        let name = unique_name(label);
        let url = database_url(admin, &name);
        execute(admin, format!("CREATE DATABASE {name}"))?;
        Ok(TempDatabase {
            admin: admin.to_owned(),
            name,
            url,
        })
    }

    /// The database's URL (its name in place of the admin URL's database).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        // Never panic here: a drop during a failing test's unwinding would abort.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = execute(&self.admin, sql) {
            eprintln!(
                "warning: could not drop the throwaway database {}: {e}",
                self.name
            );
        }
    }
}

/// `xl_<label>_<pid>_<time>_<n>`: unique across concurrent processes (pid) and within one
/// (counter), a valid unquoted identifier, at most 63 bytes (PostgreSQL's limit).
fn unique_name(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() % 1_000_000_000_000);
    format!(
        "xl_{label}_{}_{micros}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL of database `name` on the server of `admin`.
fn database_url(admin: &str, name: &str) -> String {
    if !admin.contains("://") {
        // A `key=value` connection string: a later `dbname` wins.
        return format!("{admin} dbname={name}");
    }
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    // `scheme://authority[/database]`: replace or add the database.
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(i) => &base[..authority_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs one statement on the server of `admin`, on a thread of its own (see the module doc).
fn execute(admin: &str, sql: String) -> Result<(), String> {
    let admin = admin.to_owned();
    std::thread::Builder::new()
        .name("testkit-pg".into())
        .spawn(move || {
            let mut c = ::postgres::Client::connect(&admin, ::postgres::NoTls).map_err(|e| {
                format!("cannot reach the test PostgreSQL server at {admin} ({ENV}): {e}")
            })?;
            c.batch_execute(&sql)
                .map_err(|e| format!("PostgreSQL at {admin}: `{sql}` failed: {e}"))
        })
        .map_err(|e| format!("cannot start a thread for PostgreSQL: {e}"))?
        .join()
        .map_err(|_| "the PostgreSQL thread panicked".to_owned())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_replace_or_add_the_database() {
        assert_eq!(
            database_url("postgres://xueliang@127.0.0.1:55432/postgres", "d"),
            "postgres://xueliang@127.0.0.1:55432/d"
        );
        assert_eq!(
            database_url("postgresql://u:p@h:5/admin?sslmode=disable", "d"),
            "postgresql://u:p@h:5/d?sslmode=disable"
        );
        assert_eq!(database_url("postgres://h:5", "d"), "postgres://h:5/d");
        assert_eq!(
            database_url("host=h user=u dbname=postgres", "d"),
            "host=h user=u dbname=postgres dbname=d"
        );
    }

    #[test]
    fn names_are_unique_identifiers() {
        let (a, b) = (unique_name("bench stage!"), unique_name("bench stage!"));
        assert_ne!(a, b);
        assert!(a.starts_with("xl_bench_stage__"), "{a}");
        assert!(a.len() <= 63, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        assert!(unique_name(&"x".repeat(100)).len() <= 63);
    }

    /// Against the real test server (skipped outside CI without one, like the store suites).
    #[test]
    fn a_temp_database_exists_until_dropped() {
        let Some(db) = TempDatabase::create_or_skip() else {
            return;
        };
        let name = db.name().to_owned();
        let exists = |name: &str| {
            let (admin, name) = (admin_url().unwrap(), name.to_owned());
            std::thread::spawn(move || {
                let mut c = ::postgres::Client::connect(&admin, ::postgres::NoTls).unwrap();
                c.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                    .unwrap()
                    .is_some()
            })
            .join()
            .unwrap()
        };
        assert!(exists(&name));
        // Reachable under its own URL; a connection still open does not keep it on drop.
        let url = db.url().to_owned();
        let open = std::thread::spawn(move || {
            let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            c.batch_execute("CREATE TABLE t (x BIGINT)").unwrap();
            c
        })
        .join()
        .unwrap();
        drop(db);
        assert!(!exists(&name), "{name} was not dropped");
        std::thread::spawn(move || drop(open)).join().unwrap();
    }
}
