//! Silences: maintenance windows per camera, desk or jurisdiction. A matching alert is still
//! recorded (and joins its incident) but neither notifies nor escalates.

use super::super::sql::{Tx, V, int, text};
use super::super::{StoreError, StoreOptions};
use super::{Actor, NewSilence, Silence, SilenceScope, from_us, parse_enum, parse_uuid, us};
use chrono::{DateTime, Utc};
use uuid::Uuid;
use xueliang_core::DeskId;

/// A silence in force, as the grouping step matches it (in memory: a batch loads them once).
#[derive(Debug, Clone)]
pub struct Active {
    scope: SilenceScope,
    value: String,
}

impl Active {
    pub fn matches(&self, camera: &str, desk: &DeskId, jurisdiction: Option<&str>) -> bool {
        match self.scope {
            SilenceScope::Camera => self.value == camera,
            SilenceScope::Desk => self.value == desk.as_str(),
            SilenceScope::Jurisdiction => Some(self.value.as_str()) == jurisdiction,
        }
    }
}

/// Silences in force at `now`.
pub fn active(t: &mut dyn Tx, now: DateTime<Utc>) -> Result<Vec<Active>, StoreError> {
    t.query(
        "SELECT scope, value FROM silences WHERE starts_at <= $1 AND ends_at > $1",
        &[V::I(us(now))],
    )?
    .iter()
    .map(|r| {
        Ok(Active {
            scope: parse_enum(&text(r, 0, "silence scope")?, "silence scope")?,
            value: text(r, 1, "silence value")?,
        })
    })
    .collect()
}

pub fn add(
    t: &mut dyn Tx,
    o: &StoreOptions,
    s: &NewSilence,
    actor: &Actor,
) -> Result<Silence, StoreError> {
    if s.ends_at <= s.starts_at {
        return Err(StoreError::Conflict(format!(
            "silence ends ({}) before it starts ({}); set ends_at after starts_at",
            s.ends_at, s.starts_at
        )));
    }
    if s.value.trim().is_empty() {
        return Err(StoreError::Conflict(format!(
            "silence needs the {} id in `value`",
            s.scope.as_str()
        )));
    }
    let id = Uuid::now_v7();
    t.exec(
        "INSERT INTO silences (silence_id, scope, value, starts_at, ends_at, created_by, \
         comment, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            V::from(id.to_string()),
            V::from(s.scope.as_str()),
            V::from(s.value.trim()),
            V::I(us(s.starts_at)),
            V::I(us(s.ends_at)),
            V::from(&actor.user),
            V::from(&s.comment),
            V::I(us(o.clock.now())),
        ],
    )?;
    Ok(Silence {
        id,
        scope: s.scope,
        value: s.value.trim().to_owned(),
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        comment: s.comment.clone(),
        created_by: actor.user.clone(),
    })
}

pub fn list_active(t: &mut dyn Tx, o: &StoreOptions) -> Result<Vec<Silence>, StoreError> {
    let rows = t.query(
        "SELECT silence_id, scope, value, starts_at, ends_at, comment, created_by \
         FROM silences WHERE ends_at > $1 ORDER BY starts_at, silence_id",
        &[V::I(us(o.clock.now()))],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Silence {
                id: parse_uuid(&text(r, 0, "silence id")?, "silence id")?,
                scope: parse_enum::<SilenceScope>(&text(r, 1, "scope")?, "silence scope")?,
                value: text(r, 2, "silence value")?,
                starts_at: from_us(int(r, 3, "starts_at")?),
                ends_at: from_us(int(r, 4, "ends_at")?),
                comment: text(r, 5, "comment").unwrap_or_default(),
                created_by: text(r, 6, "created_by")?,
            })
        })
        .collect()
}

pub fn expire(
    t: &mut dyn Tx,
    o: &StoreOptions,
    id: Uuid,
    actor: &Actor,
) -> Result<bool, StoreError> {
    let now = us(o.clock.now());
    let n = t.exec(
        "UPDATE silences SET ends_at = $1 WHERE silence_id = $2 AND ends_at > $1",
        &[V::I(now), V::from(id.to_string())],
    )?;
    if n > 0 {
        tracing::info!(silence = %id, by = %actor.user, "silence expired");
    }
    Ok(n > 0)
}
