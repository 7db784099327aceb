//! The duty level (勤务等级), one row in `settings`, and re-prioritising on change.

use super::super::sql::{Tx, V, text};
use super::super::{StoreError, StoreOptions};
use super::{Actor, ChangeKind, IncidentChange, audit, enum_str, incidents, parse_enum};
use super::{parse_uuid, us};
use xueliang_core::contract::{DutyLevel, Priority, Severity};

pub fn get(t: &mut dyn Tx) -> Result<DutyLevel, StoreError> {
    match t.query_opt("SELECT value FROM settings WHERE key = 'duty_level'", &[])? {
        Some(r) => parse_enum(&text(&r, 0, "duty level")?, "duty level"),
        None => Ok(DutyLevel::Normal),
    }
}

pub fn set(
    t: &mut dyn Tx,
    o: &StoreOptions,
    level: DutyLevel,
    actor: &Actor,
) -> Result<Vec<IncidentChange>, StoreError> {
    let now = o.clock.now();
    let old = get(t)?;
    t.exec(
        "INSERT INTO settings (key, value, updated_at, updated_by) \
         VALUES ('duty_level', $1, $2, $3) ON CONFLICT (key) DO UPDATE SET \
         value = excluded.value, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
        &[
            V::from(enum_str(&level)),
            V::I(us(now)),
            V::from(&actor.user),
        ],
    )?;
    tracing::info!(from = enum_str(&old), to = enum_str(&level), by = %actor.user, "duty level set");
    let rows = t.query(
        "SELECT incident_id, severity, event_type, priority FROM incidents \
         WHERE state <> 'closed'",
        &[],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let sid = text(&r, 0, "incident id")?;
        let sev: Severity = parse_enum(&text(&r, 1, "severity")?, "severity")?;
        let ev = parse_enum(&text(&r, 2, "event type")?, "event type")?;
        let cur: Priority = parse_enum(&text(&r, 3, "priority")?, "priority")?;
        let want = o.policy.priority(sev, ev, level);
        if want == cur {
            continue;
        }
        t.exec(
            "UPDATE incidents SET priority = $1, updated_at = $2 WHERE incident_id = $3",
            &[V::from(enum_str(&want)), V::I(us(now)), V::from(&sid)],
        )?;
        let id = parse_uuid(&sid, "incident id")?;
        audit(
            t,
            id,
            now,
            actor,
            "reprioritised",
            None,
            None,
            &format!(
                "{} → {} (duty level {} → {})",
                enum_str(&cur),
                enum_str(&want),
                enum_str(&old),
                enum_str(&level)
            ),
        )?;
        out.push(incidents::change(t, id, ChangeKind::Reprioritised)?);
    }
    Ok(out)
}
