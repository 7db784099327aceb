//! Incidents: reads, the operator lifecycle, escalation, per-desk statistics.

use super::super::sql::{Row, Tx, V, int, opt_int, opt_text, text};
use super::super::{RouteRole, StoreError, StoreOptions};
use super::us;
use super::{Action, Actor, CameraHealthRow, ChangeKind, DeskStats, IncidentChange};
use super::{IncidentFilter, audit, duty, enum_str, from_us, parse_desk, parse_enum, parse_uuid};
use crate::policy::PRIORITIES;
use uuid::Uuid;
use xueliang_core::contract::{
    AuditEntry, DispatchInfo, Escalation, EventType, IncidentV1, Severity,
};
use xueliang_core::{CameraId, DeskId};

const COLS: &str = "incident_id, desk_id, camera_id, event_type, priority, state, alert_count, \
                    first_seen, last_seen, escalated_at, escalated_to, waited_s, dispatch_unit, \
                    dispatch_note, disposition, silenced";

fn decode(r: &Row) -> Result<IncidentV1, StoreError> {
    let escalation = match (opt_int(r, 9), opt_text(r, 10)) {
        (Some(at), Some(to)) => Some(Escalation {
            at: from_us(at),
            to_desk: parse_desk(&to)?,
            waited_s: opt_int(r, 11).unwrap_or(0).max(0) as u64,
        }),
        _ => None,
    };
    Ok(IncidentV1 {
        id: parse_uuid(&text(r, 0, "incident id")?, "incident id")?,
        desk_id: parse_desk(&text(r, 1, "incident desk")?)?,
        camera_id: CameraId::new(text(r, 2, "incident camera")?)
            .map_err(|e| StoreError::corrupt("incident camera", e.to_string()))?,
        event_type: parse_enum(&text(r, 3, "event type")?, "event type")?,
        priority: parse_enum(&text(r, 4, "priority")?, "priority")?,
        state: parse_enum(&text(r, 5, "state")?, "state")?,
        alert_count: int(r, 6, "alert count")?.max(0) as u32,
        first_seen: from_us(int(r, 7, "first_seen")?),
        last_seen: from_us(int(r, 8, "last_seen")?),
        escalation,
        dispatch: opt_text(r, 12).map(|unit| DispatchInfo {
            unit,
            note: opt_text(r, 13).unwrap_or_default(),
        }),
        disposition: opt_text(r, 14)
            .map(|d| parse_enum(&d, "disposition"))
            .transpose()?,
        silenced: int(r, 15, "silenced")? != 0,
        alert_ids: Vec::new(),
        history: Vec::new(),
    })
}

pub fn add_desk(
    t: &mut dyn Tx,
    id: Uuid,
    desk: &DeskId,
    role: RouteRole,
) -> Result<(), StoreError> {
    t.exec(
        "INSERT INTO incident_desks (incident_id, desk_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (incident_id, desk_id) DO NOTHING",
        &[
            V::from(id.to_string()),
            V::from(desk.as_str()),
            V::from(role.as_str()),
        ],
    )?;
    Ok(())
}

fn desks(t: &mut dyn Tx, id: &str) -> Result<Vec<(DeskId, RouteRole)>, StoreError> {
    let rows = t.query(
        "SELECT desk_id, role FROM incident_desks WHERE incident_id = $1 \
         ORDER BY CASE role WHEN 'primary' THEN 0 WHEN 'copy' THEN 1 ELSE 2 END, desk_id",
        &[V::from(id)],
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                parse_desk(&text(r, 0, "incident desk")?)?,
                RouteRole::parse(&text(r, 1, "incident desk role")?),
            ))
        })
        .collect()
}

/// Desk ids of an incident in the order [`change`] lists them (primary, copies, escalation).
pub fn desk_ids(t: &mut dyn Tx, id: Uuid) -> Result<Vec<DeskId>, StoreError> {
    Ok(desks(t, &id.to_string())?
        .into_iter()
        .map(|(d, _)| d)
        .collect())
}

/// The open incident of `camera` and `event` with the newest `last_seen`, and its severity.
pub fn newest_open(
    t: &mut dyn Tx,
    camera: &CameraId,
    event: EventType,
) -> Result<Option<(IncidentV1, Severity)>, StoreError> {
    let Some(row) = t.query_opt(
        &format!(
            "SELECT {COLS}, severity FROM incidents \
             WHERE camera_id = $1 AND event_type = $2 AND state <> 'closed' \
             ORDER BY last_seen DESC LIMIT 1"
        ),
        &[V::from(camera.as_str()), V::from(event.as_str())],
    )?
    else {
        return Ok(None);
    };
    let severity = parse_enum(&text(&row, 16, "incident severity")?, "severity")?;
    Ok(Some((decode(&row)?, severity)))
}

/// The incident without alert ids and history, and its desks.
pub fn read_summary(
    t: &mut dyn Tx,
    id: Uuid,
) -> Result<(IncidentV1, Vec<(DeskId, RouteRole)>), StoreError> {
    let sid = id.to_string();
    let row = t
        .query_opt(
            &format!("SELECT {COLS} FROM incidents WHERE incident_id = $1"),
            &[V::from(&sid)],
        )?
        .ok_or_else(|| StoreError::NotFound(format!("no incident {id}")))?;
    Ok((decode(&row)?, desks(t, &sid)?))
}

/// The change to push after `kind` happened to incident `id` (read back in the same
/// transaction). A silence suppresses what alerts and timers cause, not what an operator did.
pub fn change(t: &mut dyn Tx, id: Uuid, kind: ChangeKind) -> Result<IncidentChange, StoreError> {
    let (incident, desks) = read_summary(t, id)?;
    let by_operator = matches!(
        kind,
        ChangeKind::Acknowledged | ChangeKind::Dispatched | ChangeKind::Closed
    );
    Ok(IncidentChange {
        kind,
        notify: by_operator || !incident.silenced,
        incident,
        desks: desks.into_iter().map(|(d, _)| d).collect(),
    })
}

pub fn get(
    t: &mut dyn Tx,
    id: Uuid,
) -> Result<Option<crate::store::IncidentWithDesks>, StoreError> {
    let (mut inc, desks) = match read_summary(t, id) {
        Ok(x) => x,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let sid = id.to_string();
    for r in t.query(
        "SELECT alert_id FROM alerts WHERE incident_id = $1 ORDER BY captured_at, alert_id",
        &[V::from(&sid)],
    )? {
        inc.alert_ids
            .push(parse_uuid(&text(&r, 0, "alert id")?, "alert id")?);
    }
    for r in t.query(
        "SELECT at, actor, from_addr, action, from_state, to_state, note FROM audit \
         WHERE incident_id = $1 ORDER BY seq",
        &[V::from(&sid)],
    )? {
        inc.history.push(AuditEntry {
            at: from_us(int(&r, 0, "audit at")?),
            actor: text(&r, 1, "audit actor")?,
            from_addr: opt_text(&r, 2).unwrap_or_default(),
            action: text(&r, 3, "audit action")?,
            from_state: opt_text(&r, 4)
                .map(|s| parse_enum(&s, "audit state"))
                .transpose()?,
            to_state: opt_text(&r, 5)
                .map(|s| parse_enum(&s, "audit state"))
                .transpose()?,
            note: opt_text(&r, 6).unwrap_or_default(),
        });
    }
    Ok(Some((inc, desks)))
}

pub fn list(t: &mut dyn Tx, f: &IncidentFilter) -> Result<Vec<IncidentV1>, StoreError> {
    let mut sql = format!("SELECT {COLS} FROM incidents WHERE 1 = 1");
    let mut p: Vec<V> = Vec::new();
    let mut arg = |sql: &mut String, cond: &str, v: V| {
        p.push(v);
        sql.push_str(&cond.replace('?', &format!("${}", p.len())));
    };
    if let Some(d) = &f.visible_to {
        arg(
            &mut sql,
            " AND incident_id IN (SELECT incident_id FROM incident_desks WHERE desk_id = ?)",
            V::from(d.as_str()),
        );
    }
    if let Some(s) = f.state {
        arg(&mut sql, " AND state = ?", V::from(enum_str(&s)));
    }
    match f.open {
        Some(true) => sql.push_str(" AND state <> 'closed'"),
        Some(false) => sql.push_str(" AND state = 'closed'"),
        None => {}
    }
    if let Some(e) = f.event_type {
        arg(&mut sql, " AND event_type = ?", V::from(e.as_str()));
    }
    if let Some(c) = &f.camera_id {
        arg(&mut sql, " AND camera_id = ?", V::from(c.as_str()));
    }
    match f.escalated {
        Some(true) => sql.push_str(" AND escalated_at IS NOT NULL"),
        Some(false) => sql.push_str(" AND escalated_at IS NULL"),
        None => {}
    }
    let limit = f.limit.unwrap_or(200).clamp(1, 1000);
    arg(
        &mut sql,
        " ORDER BY priority, created_at, incident_id LIMIT ?",
        V::I(limit as i64),
    );
    let rows = t.query(&sql, &p)?;
    rows.iter().map(decode).collect()
}

pub fn act(
    t: &mut dyn Tx,
    o: &StoreOptions,
    id: Uuid,
    action: &Action,
    actor: &Actor,
) -> Result<IncidentChange, StoreError> {
    let now = o.clock.now();
    let (inc, _) = read_summary(t, id)?;
    let to = action.target();
    if !inc.state.can_move_to(to) {
        return Err(StoreError::Conflict(format!(
            "incident {id} is {}; it cannot be {} (allowed: new → acknowledged → dispatched, \
             close from any open state)",
            enum_str(&inc.state),
            action.name()
        )));
    }
    let sid = id.to_string();
    let from_v = V::from(enum_str(&inc.state));
    let (n, note, kind) = match action {
        Action::Acknowledge { note } => (
            t.exec(
                "UPDATE incidents SET state = 'acknowledged', acked_at = $1, acked_by = $2, \
                 updated_at = $1 WHERE incident_id = $3 AND state = $4",
                &[V::I(us(now)), V::from(&actor.user), V::from(&sid), from_v],
            )?,
            note.clone(),
            ChangeKind::Acknowledged,
        ),
        Action::Dispatch { unit, note } => {
            if unit.trim().is_empty() {
                return Err(StoreError::Conflict(
                    "dispatch needs a patrol unit (unit = \"巡逻一组\")".into(),
                ));
            }
            (
                t.exec(
                    "UPDATE incidents SET state = 'dispatched', dispatch_unit = $1, \
                     dispatch_note = $2, dispatched_at = $3, updated_at = $3 \
                     WHERE incident_id = $4 AND state = $5",
                    &[
                        V::from(unit.trim()),
                        V::from(note),
                        V::I(us(now)),
                        V::from(&sid),
                        from_v,
                    ],
                )?,
                format!("unit {}{}", unit.trim(), sep(note)),
                ChangeKind::Dispatched,
            )
        }
        Action::Close { disposition, note } => (
            t.exec(
                "UPDATE incidents SET state = 'closed', disposition = $1, closed_at = $2, \
                 updated_at = $2 WHERE incident_id = $3 AND state = $4",
                &[
                    V::from(enum_str(disposition)),
                    V::I(us(now)),
                    V::from(&sid),
                    from_v,
                ],
            )?,
            format!("{}{}", enum_str(disposition), sep(note)),
            ChangeKind::Closed,
        ),
    };
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "incident {id} changed meanwhile; reload it and try again"
        )));
    }
    // The first acknowledgement also settles the SLA (acked_at is kept for statistics).
    audit(
        t,
        id,
        now,
        actor,
        action.name(),
        Some(inc.state),
        Some(to),
        &note,
    )?;
    change(t, id, kind)
}

fn sep(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!(" — {note}")
    }
}

pub fn escalate_due(t: &mut dyn Tx, o: &StoreOptions) -> Result<Vec<IncidentChange>, StoreError> {
    let now = o.clock.now();
    let duty = duty::get(t)?;
    let centre = &o.policy.centre;
    let mut out = Vec::new();
    for p in PRIORITIES {
        let sla = o.policy.ack_sla(p, duty);
        let cutoff = us(now) - sla.as_micros() as i64;
        let due = t.query(
            "SELECT incident_id, created_at FROM incidents WHERE state = 'new' \
             AND escalated_at IS NULL AND silenced = 0 AND priority = $1 AND created_at <= $2",
            &[V::from(enum_str(&p)), V::I(cutoff)],
        )?;
        for r in due {
            let sid = text(&r, 0, "incident id")?;
            let waited = ((us(now) - int(&r, 1, "created_at")?) / 1_000_000).max(0);
            let n = t.exec(
                "UPDATE incidents SET escalated_at = $1, escalated_to = $2, waited_s = $3, \
                 updated_at = $1 WHERE incident_id = $4 AND state = 'new' \
                 AND escalated_at IS NULL",
                &[
                    V::I(us(now)),
                    V::from(centre.as_str()),
                    V::I(waited),
                    V::from(&sid),
                ],
            )?;
            if n == 0 {
                continue;
            }
            let id = parse_uuid(&sid, "incident id")?;
            add_desk(t, id, centre, RouteRole::Escalation)?;
            audit(
                t,
                id,
                now,
                &Actor::system(),
                "escalated",
                None,
                None,
                &format!(
                    "not acknowledged within the {} s SLA for {} ({} duty); waited {waited} s; \
                     raised to {centre}",
                    sla.as_secs(),
                    enum_str(&p),
                    enum_str(&duty),
                ),
            )?;
            out.push(change(t, id, ChangeKind::Escalated)?);
        }
    }
    Ok(out)
}

/// Counted by the database, one row per desk, rather than by reading every incident the
/// store ever held into the dispatcher on each centre-view refresh.
pub fn desk_stats(t: &mut dyn Tx, o: &StoreOptions) -> Result<Vec<DeskStats>, StoreError> {
    let now = o.clock.now();
    let midnight = us(now) - us(now).rem_euclid(86_400_000_000);
    let duty = duty::get(t)?;
    let mut params = vec![V::I(midnight)];
    params.extend(
        PRIORITIES
            .iter()
            .map(|p| V::I(o.policy.ack_sla(*p, duty).as_micros() as i64)),
    );
    let rows = t.query(
        "SELECT d.desk_id, \
         SUM(CASE WHEN i.state = 'new' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.state = 'acknowledged' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.state = 'dispatched' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.state <> 'closed' AND i.escalated_at IS NOT NULL THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.state = 'closed' AND i.closed_at >= $1 THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.acked_at IS NOT NULL THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.acked_at IS NOT NULL AND i.acked_at - i.created_at <= \
             CASE i.priority WHEN 'P1' THEN CAST($2 AS BIGINT) WHEN 'P2' THEN CAST($3 AS BIGINT) \
             WHEN 'P3' THEN CAST($4 AS BIGINT) ELSE CAST($5 AS BIGINT) END \
             THEN 1 ELSE 0 END) \
         FROM incident_desks d JOIN incidents i ON i.incident_id = d.incident_id \
         GROUP BY d.desk_id ORDER BY d.desk_id",
        &params,
    )?;
    rows.iter()
        .map(|r| {
            let n = |i: usize| int(r, i, "desk count").map(|v| v.max(0) as u64);
            let (acked, within) = (n(6)?, n(7)?);
            Ok(DeskStats {
                desk_id: parse_desk(&text(r, 0, "desk")?)?,
                new: n(1)?,
                acknowledged: n(2)?,
                dispatched: n(3)?,
                escalated: n(4)?,
                closed_today: n(5)?,
                ack_within_sla: (acked > 0).then(|| within as f64 / acked as f64),
            })
        })
        .collect()
}

pub fn camera_faults(t: &mut dyn Tx) -> Result<Vec<CameraHealthRow>, StoreError> {
    let faults: Vec<String> = EventType::ALL
        .iter()
        .filter(|e| e.is_camera_fault())
        .map(|e| format!("'{}'", e.as_str()))
        .collect();
    let rows = t.query(
        &format!(
            "SELECT camera_id, event_type, incident_id, first_seen, last_seen FROM incidents \
             WHERE state <> 'closed' AND event_type IN ({}) ORDER BY camera_id, first_seen",
            faults.join(", ")
        ),
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(CameraHealthRow {
                camera_id: CameraId::new(text(r, 0, "camera")?)
                    .map_err(|e| StoreError::corrupt("camera id", e.to_string()))?,
                event_type: parse_enum(&text(r, 1, "event type")?, "event type")?,
                incident_id: parse_uuid(&text(r, 2, "incident id")?, "incident id")?,
                since: from_us(int(r, 3, "first_seen")?),
                last_seen: from_us(int(r, 4, "last_seen")?),
            })
        })
        .collect()
}
