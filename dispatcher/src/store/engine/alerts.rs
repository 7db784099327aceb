//! Alerts: idempotent insert, grouping into incidents, reads.

use super::super::sql::{Row, Tx, V, int, opt_text, text};
use super::super::{AlertRecord, Inserted, RouteRole, StoreError, StoreOptions, StoredAlert};
use super::{Actor, ChangeKind, IncidentChange, audit, duty, enum_str, incidents, parse_desk};
use super::{parse_enum, parse_uuid, silences, us};
use chrono::SecondsFormat;
use uuid::Uuid;
use xueliang_core::DeskId;
use xueliang_core::contract::{AlertV1, IncidentState, Priority, Severity};

pub fn insert_batch(
    t: &mut dyn Tx,
    batch: &[AlertRecord],
    o: &StoreOptions,
) -> Result<Vec<Inserted>, StoreError> {
    let now = o.clock.now();
    let received_at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
    let duty = duty::get(t)?;
    let mut out = Vec::with_capacity(batch.len());
    let silences = silences::active(t, now)?;
    for rec in batch {
        let a = &rec.alert;
        let id = a.alert_id.to_string();
        // Redelivery is the common duplicate: a primary-key probe, before any grouping work.
        if t.query_opt("SELECT 1 FROM alerts WHERE alert_id = $1", &[V::from(&id)])?
            .is_some()
        {
            out.push(Inserted {
                new: false,
                incident: None,
            });
            continue;
        }
        // The incident first, so the alert row is written once, with its incident id (a
        // follow-up UPDATE would rewrite the whole row, snapshot included).
        let change = group(t, rec, o, duty, &silences)?;
        let json = String::from_utf8(a.to_json()).expect("serde_json writes UTF-8");
        t.exec(
            "INSERT INTO alerts (alert_id, camera_id, event_type, severity, rule_id, \
             captured_at, received_at, desk_id, route_reason, jurisdiction, grid, json, \
             incident_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                V::from(&id),
                V::from(a.camera_id.as_str()),
                V::from(a.event_type.as_str()),
                V::from(a.severity.as_str()),
                V::from(&a.rule_id),
                V::from(a.captured_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
                V::from(&received_at),
                V::from(rec.route.primary.as_str()),
                V::from(rec.route.reason.as_str()),
                V::from(rec.route.jurisdiction.clone()),
                V::from(rec.route.grid.clone()),
                V::from(json),
                V::from(change.incident.id.to_string()),
            ],
        )?;
        let route_sql = "INSERT INTO alert_routes (alert_id, desk_id, role) VALUES ($1, $2, $3) \
                         ON CONFLICT (alert_id, desk_id) DO NOTHING";
        t.exec(
            route_sql,
            &[
                V::from(&id),
                V::from(rec.route.primary.as_str()),
                V::from(RouteRole::Primary.as_str()),
            ],
        )?;
        for c in &rec.route.copies {
            t.exec(
                route_sql,
                &[
                    V::from(&id),
                    V::from(c.as_str()),
                    V::from(RouteRole::Copy.as_str()),
                ],
            )?;
        }
        out.push(Inserted {
            new: true,
            incident: Some(change),
        });
    }
    Ok(out)
}

/// Joins the alert to the open incident of its camera and event type within the grouping
/// window, or opens a new incident.
fn group(
    t: &mut dyn Tx,
    rec: &AlertRecord,
    o: &StoreOptions,
    duty: xueliang_core::contract::DutyLevel,
    silences: &[silences::Active],
) -> Result<IncidentChange, StoreError> {
    let a = &rec.alert;
    let now = o.clock.now();
    let cap = us(a.captured_at);
    let window = o.policy.grouping_window.as_micros() as i64;
    let silenced = silences.iter().any(|s| {
        s.matches(
            a.camera_id.as_str(),
            &rec.route.primary,
            rec.route.jurisdiction.as_deref(),
        )
    });
    let priority = o.policy.priority(a.severity, a.event_type, duty);
    let open = t.query_opt(
        "SELECT incident_id, first_seen, last_seen, silenced, priority, severity FROM incidents \
         WHERE camera_id = $1 AND event_type = $2 AND state <> 'closed' \
         ORDER BY last_seen DESC LIMIT 1",
        &[
            V::from(a.camera_id.as_str()),
            V::from(a.event_type.as_str()),
        ],
    )?;
    if let Some(row) = open {
        let first = int(&row, 1, "incident first_seen")?;
        let last = int(&row, 2, "incident last_seen")?;
        if cap <= last + window && cap >= first - window {
            let id = text(&row, 0, "incident id")?;
            let was_silenced = int(&row, 3, "incident silenced")? != 0;
            let cur_p: Priority = parse_enum(&text(&row, 4, "incident priority")?, "priority")?;
            let cur_s: Severity = parse_enum(&text(&row, 5, "incident severity")?, "severity")?;
            // A silence ending, or a more severe alert, makes the incident louder; never
            // quieter.
            let still_silenced = was_silenced && silenced;
            t.exec(
                "UPDATE incidents SET alert_count = alert_count + 1, first_seen = $1, \
                 last_seen = $2, priority = $3, severity = $4, silenced = $5, updated_at = $6 \
                 WHERE incident_id = $7",
                &[
                    V::I(first.min(cap)),
                    V::I(last.max(cap)),
                    V::from(enum_str(&cur_p.min(priority))),
                    V::from(cur_s.max(a.severity).as_str()),
                    V::from(still_silenced),
                    V::I(us(now)),
                    V::from(&id),
                ],
            )?;
            let id = parse_uuid(&id, "incident id")?;
            return incidents::change(t, id, ChangeKind::Updated);
        }
    }
    let id = Uuid::now_v7();
    t.exec(
        "INSERT INTO incidents (incident_id, desk_id, camera_id, event_type, severity, \
         priority, state, alert_count, first_seen, last_seen, created_at, updated_at, silenced, \
         jurisdiction) VALUES ($1, $2, $3, $4, $5, $6, 'new', 1, $7, $7, $8, $8, $9, $10)",
        &[
            V::from(id.to_string()),
            V::from(rec.route.primary.as_str()),
            V::from(a.camera_id.as_str()),
            V::from(a.event_type.as_str()),
            V::from(a.severity.as_str()),
            V::from(enum_str(&priority)),
            V::I(cap),
            V::I(us(now)),
            V::from(silenced),
            V::from(rec.route.jurisdiction.clone()),
        ],
    )?;
    incidents::add_desk(t, id, &rec.route.primary, RouteRole::Primary)?;
    for c in &rec.route.copies {
        incidents::add_desk(t, id, c, RouteRole::Copy)?;
    }
    let note = if silenced {
        format!("routed: {} (silenced)", rec.route.reason.as_str())
    } else {
        format!("routed: {}", rec.route.reason.as_str())
    };
    audit(
        t,
        id,
        now,
        &Actor::system(),
        "opened",
        None,
        Some(IncidentState::New),
        &note,
    )?;
    incidents::change(t, id, ChangeKind::Created)
}

pub fn count(t: &mut dyn Tx) -> Result<u64, StoreError> {
    let row = t.query_opt("SELECT COUNT(*) FROM alerts", &[])?;
    Ok(row.map_or(Ok(0), |r| int(&r, 0, "alert count"))? as u64)
}

const SELECT_ALERT: &str = "SELECT alert_id, desk_id, route_reason, jurisdiction, grid, \
                            received_at, json, incident_id FROM alerts";

pub fn get(t: &mut dyn Tx, id: Uuid) -> Result<Option<StoredAlert>, StoreError> {
    let row = t.query_opt(
        &format!("{SELECT_ALERT} WHERE alert_id = $1"),
        &[V::from(id.to_string())],
    )?;
    row.map(|r| finish(t, r)).transpose()
}

pub fn for_desk(
    t: &mut dyn Tx,
    desk: &DeskId,
    limit: usize,
) -> Result<Vec<StoredAlert>, StoreError> {
    let rows = t.query(
        &format!(
            "{SELECT_ALERT} WHERE alert_id IN \
             (SELECT alert_id FROM alert_routes WHERE desk_id = $1) \
             ORDER BY alert_id DESC LIMIT $2"
        ),
        &[V::from(desk.as_str()), V::I(limit as i64)],
    )?;
    rows.into_iter().map(|r| finish(t, r)).collect()
}

pub fn for_incident(t: &mut dyn Tx, id: Uuid) -> Result<Vec<StoredAlert>, StoreError> {
    let rows = t.query(
        &format!("{SELECT_ALERT} WHERE incident_id = $1 ORDER BY captured_at, alert_id"),
        &[V::from(id.to_string())],
    )?;
    rows.into_iter().map(|r| finish(t, r)).collect()
}

/// Decodes a row and reads its routes.
fn finish(t: &mut dyn Tx, r: Row) -> Result<StoredAlert, StoreError> {
    let alert_id = text(&r, 0, "alert id")?;
    let json = text(&r, 6, "alert json")?;
    let alert = AlertV1::from_json(json.as_bytes())
        .map_err(|e| StoreError::corrupt("alert", format!("{alert_id}: {e}")))?;
    let received_at = chrono::DateTime::parse_from_rfc3339(&text(&r, 5, "received_at")?)
        .map_err(|e| StoreError::corrupt("alert", format!("{alert_id} received_at: {e}")))?
        .with_timezone(&chrono::Utc);
    let pairs = t.query(
        "SELECT desk_id, role FROM alert_routes WHERE alert_id = $1 \
         ORDER BY CASE role WHEN 'primary' THEN 0 ELSE 1 END, desk_id",
        &[V::from(&alert_id)],
    )?;
    let mut routes = Vec::with_capacity(pairs.len());
    for p in pairs {
        routes.push((
            parse_desk(&text(&p, 0, "route desk")?)?,
            RouteRole::parse(&text(&p, 1, "route role")?),
        ));
    }
    Ok(StoredAlert {
        alert,
        desk_id: parse_desk(&text(&r, 1, "alert desk")?)?,
        route_reason: text(&r, 2, "route reason")?,
        jurisdiction: opt_text(&r, 3),
        grid: opt_text(&r, 4),
        received_at,
        routes,
        incident_id: opt_text(&r, 7)
            .map(|s| parse_uuid(&s, "alert incident id"))
            .transpose()?,
    })
}
