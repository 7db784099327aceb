//! The seam between the store's logic and a database driver.
//!
//! Design decision: the incident logic (grouping, lifecycle, escalation, silences, users) is
//! written once, against [`Tx`], in a portable subset of SQL that SQLite and PostgreSQL both
//! run unchanged: `$N` parameters, `BIGINT` integers (timestamps are microseconds since the
//! epoch), `TEXT`, `ON CONFLICT … DO NOTHING/UPDATE` and `RETURNING`. Each backend only opens a
//! connection, runs its own migrations and adapts values. That is what lets PostgreSQL pass
//! the very same test suite as SQLite instead of a second, drifting implementation.

use super::StoreError;

/// A value crossing the driver seam. Deliberately tiny: every column is an integer or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V {
    Null,
    I(i64),
    T(String),
    /// Text shared with its owner (an alert's JSON as received): bound without a copy.
    S(std::sync::Arc<str>),
}

impl V {
    pub fn int(&self) -> Option<i64> {
        match self {
            V::I(i) => Some(*i),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            V::T(s) => Some(s),
            V::S(s) => Some(s),
            _ => None,
        }
    }
}

impl From<i64> for V {
    fn from(i: i64) -> V {
        V::I(i)
    }
}

impl From<&str> for V {
    fn from(s: &str) -> V {
        V::T(s.to_owned())
    }
}

impl From<String> for V {
    fn from(s: String) -> V {
        V::T(s)
    }
}

impl From<&String> for V {
    fn from(s: &String) -> V {
        V::T(s.clone())
    }
}

impl From<std::sync::Arc<str>> for V {
    fn from(s: std::sync::Arc<str>) -> V {
        V::S(s)
    }
}

impl From<bool> for V {
    fn from(b: bool) -> V {
        V::I(b as i64)
    }
}

impl<T: Into<V>> From<Option<T>> for V {
    fn from(o: Option<T>) -> V {
        o.map_or(V::Null, Into::into)
    }
}

/// A row as read back: one value per selected column.
pub type Row = Vec<V>;

/// An open transaction. Both methods take SQL with `$1…$N` parameters.
pub trait Tx {
    /// Runs a statement; returns the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[V]) -> Result<u64, StoreError>;
    /// Runs a query and returns every row.
    fn query(&mut self, sql: &str, params: &[V]) -> Result<Vec<Row>, StoreError>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[V]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// A connection that can run a closure inside one transaction: commit on `Ok`, roll back on
/// `Err`.
pub trait Backend: Send + 'static {
    fn transaction(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Where the data lives, for messages (never with a password).
    fn describe(&self) -> String;

    /// Whether other processes may use the same database at once.
    fn shared(&self) -> bool {
        false
    }
}

/// Runs `f` in one transaction of `b`, returning its value.
pub fn in_tx<R>(
    b: &mut dyn Backend,
    f: impl FnOnce(&mut dyn Tx) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    b.transaction(&mut |tx| {
        let f = f.take().expect("a transaction closure runs once");
        out = Some(f(tx)?);
        Ok(())
    })?;
    Ok(out.expect("committed transactions produced a value"))
}

/// Reads column `i` of a row as an integer, or says which column was wrong.
pub fn int(row: &Row, i: usize, what: &'static str) -> Result<i64, StoreError> {
    row.get(i)
        .and_then(V::int)
        .ok_or_else(|| StoreError::corrupt(what, format!("column {i} is not an integer")))
}

pub fn opt_int(row: &Row, i: usize) -> Option<i64> {
    row.get(i).and_then(V::int)
}

pub fn text(row: &Row, i: usize, what: &'static str) -> Result<String, StoreError> {
    row.get(i)
        .and_then(V::text)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::corrupt(what, format!("column {i} is not text")))
}

pub fn opt_text(row: &Row, i: usize) -> Option<String> {
    row.get(i).and_then(V::text).map(str::to_owned)
}
