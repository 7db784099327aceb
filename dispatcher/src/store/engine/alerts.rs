//! Alerts: idempotent insert, grouping into incidents, reads.

use super::super::sql::{Row, Tx, V, int, opt_text, text};
use super::super::{AlertRecord, Inserted, RouteRole, StoreError, StoreOptions, StoredAlert};
use super::{Actor, ChangeKind, IncidentChange, audit_seq, duty, enum_str, from_us, incidents};
use super::{parse_desk, parse_uuid, silences, us};
use chrono::SecondsFormat;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use uuid::Uuid;
use xueliang_core::contract::{AlertV1, EventType, IncidentState, IncidentV1, Severity};
use xueliang_core::{CameraId, DeskId};

/// Alert ids probed per statement: a fixed width (padded by repeating the last id) keeps it
/// one cached statement.
const PROBE_WIDTH: usize = 64;

/// An open incident as this batch last left it. Within the batch's transaction nothing else
/// writes incidents on SQLite (one writer); on PostgreSQL an operator's concurrent action
/// touches other columns (state, dispatch), and the join is written back as an increment.
struct Open {
    inc: IncidentV1,
    severity: Severity,
    /// Desk ids as [`incidents::change`] lists them; read once per batch.
    desks: Option<Vec<DeskId>>,
    /// Alerts of this batch that joined (the row is updated once, at the end).
    joined: u32,
}

/// Persists a batch in one transaction (the caller's).
///
/// Design: the work per alert is an alert row and its route rows, written many rows per
/// statement; everything else is per batch or per incident. One statement finds which ids
/// are already stored (redelivery); each (camera, event type) has its open incident read once
/// and then kept in memory while the batch's alerts join it; each joined incident is written
/// back once. A burst of alerts on
/// one camera — what a busy scene or an alert storm produces — costs little more than its
/// alert rows.
pub fn insert_batch(
    t: &mut dyn Tx,
    batch: &[AlertRecord],
    o: &StoreOptions,
) -> Result<Vec<Inserted>, StoreError> {
    let now = o.clock.now();
    let received_at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
    let duty = duty::get(t)?;
    let silences = silences::active(t, now)?;
    let stored = stored_ids(t, batch)?;
    let mut seen = HashSet::with_capacity(batch.len());
    let mut open: HashMap<(CameraId, EventType), Option<Open>> = HashMap::new();
    let mut out = Vec::with_capacity(batch.len());
    let mut alert_rows: Vec<[V; 13]> = Vec::with_capacity(batch.len());
    let mut route_rows: Vec<[V; 3]> = Vec::with_capacity(batch.len() * 2);
    for rec in batch {
        let a = &rec.alert;
        if stored.contains(&a.alert_id) || !seen.insert(a.alert_id) {
            out.push(Inserted {
                new: false,
                incident: None,
            });
            continue;
        }
        // The incident first, so the alert row is written once, with its incident id.
        let change = group(t, rec, o, duty, &silences, &mut open)?;
        let id = a.alert_id.to_string();
        let json = match &rec.json {
            Some(j) => V::S(j.clone()),
            None => V::from(String::from_utf8(a.to_json()).expect("serde_json writes UTF-8")),
        };
        alert_rows.push([
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
            json,
            V::from(change.incident.id.to_string()),
        ]);
        route_rows.push([
            V::from(&id),
            V::from(rec.route.primary.as_str()),
            V::from(RouteRole::Primary.as_str()),
        ]);
        for c in &rec.route.copies {
            route_rows.push([
                V::from(&id),
                V::from(c.as_str()),
                V::from(RouteRole::Copy.as_str()),
            ]);
        }
        out.push(Inserted {
            new: true,
            incident: Some(change),
        });
    }
    // Alerts before their routes (a foreign key), many rows per statement.
    insert_rows(
        t,
        "INSERT INTO alerts (alert_id, camera_id, event_type, severity, rule_id, captured_at, \
         received_at, desk_id, route_reason, jurisdiction, grid, json, incident_id) VALUES",
        "",
        &alert_rows,
    )?;
    insert_rows(
        t,
        "INSERT INTO alert_routes (alert_id, desk_id, role) VALUES",
        " ON CONFLICT (alert_id, desk_id) DO NOTHING",
        &route_rows,
    )?;
    for o in open.into_values().flatten() {
        write_joins(t, &o, now)?;
    }
    Ok(out)
}

/// Rows per multi-row `INSERT`: fewer statements per batch, while the statement (13 columns ×
/// 32 rows = 416 parameters) stays far below both databases' parameter limits.
const ROWS_PER_INSERT: usize = 32;

/// `INSERT … VALUES (…), (…) …` of `rows`, [`ROWS_PER_INSERT`] at a time; the remainder one
/// row per statement, so only two statement shapes per table reach the statement caches.
fn insert_rows<const N: usize>(
    t: &mut dyn Tx,
    head: &str,
    tail: &str,
    rows: &[[V; N]],
) -> Result<(), StoreError> {
    let sql = |n: usize| {
        let tuples: Vec<String> = (0..n)
            .map(|r| format!("({})", placeholders(r * N + 1, N)))
            .collect();
        format!("{head} {}{tail}", tuples.join(", "))
    };
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let many = sql(ROWS_PER_INSERT);
        for chunk in chunks.by_ref() {
            let params: Vec<V> = chunk.iter().flat_map(|r| r.iter().cloned()).collect();
            t.exec(&many, &params)?;
        }
    }
    let one = sql(1);
    for row in chunks.remainder() {
        t.exec(&one, row)?;
    }
    Ok(())
}

/// `$first, $first+1, …`: `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    let p: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    p.join(", ")
}

/// Which of the batch's alert ids are already stored.
fn stored_ids(t: &mut dyn Tx, batch: &[AlertRecord]) -> Result<HashSet<Uuid>, StoreError> {
    static PROBE: OnceLock<String> = OnceLock::new();
    let sql = PROBE.get_or_init(|| {
        format!(
            "SELECT alert_id FROM alerts WHERE alert_id IN ({})",
            placeholders(1, PROBE_WIDTH)
        )
    });
    let mut found = HashSet::new();
    for chunk in batch.chunks(PROBE_WIDTH) {
        let mut ids: Vec<V> = chunk
            .iter()
            .map(|r| V::from(r.alert.alert_id.to_string()))
            .collect();
        let last = ids.last().cloned().expect("chunks are never empty");
        ids.resize(PROBE_WIDTH, last);
        for row in t.query(sql, &ids)? {
            found.insert(parse_uuid(&text(&row, 0, "alert id")?, "alert id")?);
        }
    }
    Ok(found)
}

/// The open incident of a camera and event type with the newest `last_seen`, if any.
fn load_open(
    t: &mut dyn Tx,
    camera: &CameraId,
    event: EventType,
) -> Result<Option<Open>, StoreError> {
    let Some((inc, severity)) = incidents::newest_open(t, camera, event)? else {
        return Ok(None);
    };
    Ok(Some(Open {
        inc,
        severity,
        desks: None,
        joined: 0,
    }))
}

/// Writes back what this batch's joins changed. The count is an increment, so a concurrent
/// writer's joins (another dispatcher after a rebalance) are not lost.
fn write_joins(
    t: &mut dyn Tx,
    o: &Open,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    if o.joined == 0 {
        return Ok(());
    }
    t.exec(
        "UPDATE incidents SET alert_count = alert_count + $1, first_seen = $2, \
         last_seen = $3, priority = $4, severity = $5, silenced = $6, updated_at = $7 \
         WHERE incident_id = $8",
        &[
            V::I(i64::from(o.joined)),
            V::I(us(o.inc.first_seen)),
            V::I(us(o.inc.last_seen)),
            V::from(enum_str(&o.inc.priority)),
            V::from(o.severity.as_str()),
            V::from(o.inc.silenced),
            V::I(us(now)),
            V::from(o.inc.id.to_string()),
        ],
    )?;
    Ok(())
}

/// Joins the alert to the open incident of its camera and event type within the grouping
/// window, or opens a new incident.
fn group(
    t: &mut dyn Tx,
    rec: &AlertRecord,
    o: &StoreOptions,
    duty: xueliang_core::contract::DutyLevel,
    silences: &[silences::Active],
    open: &mut HashMap<(CameraId, EventType), Option<Open>>,
) -> Result<IncidentChange, StoreError> {
    let a = &rec.alert;
    let now = o.clock.now();
    let cap = us(a.captured_at);
    let window = o.policy.grouping_window.as_micros() as i64;
    let priority = o.policy.priority(a.severity, a.event_type, duty);
    let silence_matches = silences.iter().any(|s| {
        s.matches(
            a.camera_id.as_str(),
            &rec.route.primary,
            rec.route.jurisdiction.as_deref(),
        )
    });
    // No silence holds back a P1: it notifies and escalates as if there were none.
    let silenced = silence_matches && priority != xueliang_core::contract::Priority::P1;
    let key = (a.camera_id.clone(), a.event_type);
    let slot = match open.entry(key) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => e.insert(load_open(t, &a.camera_id, a.event_type)?),
    };
    if let Some(cur) = slot {
        let (first, last) = (us(cur.inc.first_seen), us(cur.inc.last_seen));
        if cap <= last + window && cap >= first - window {
            cur.joined += 1;
            cur.inc.alert_count += 1;
            cur.inc.first_seen = from_us(first.min(cap));
            cur.inc.last_seen = from_us(last.max(cap));
            // A silence ending, or a more severe alert, makes the incident louder; never
            // quieter.
            cur.inc.priority = cur.inc.priority.min(priority);
            cur.severity = cur.severity.max(a.severity);
            cur.inc.silenced = cur.inc.silenced && silenced;
            let desks = match &cur.desks {
                Some(d) => d.clone(),
                None => {
                    let d = incidents::desk_ids(t, cur.inc.id)?;
                    cur.desks = Some(d.clone());
                    d
                }
            };
            return Ok(IncidentChange {
                kind: ChangeKind::Updated,
                notify: !cur.inc.silenced,
                incident: cur.inc.clone(),
                desks,
            });
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
    } else if silence_matches {
        format!(
            "routed: {} (a silence matches; ignored for P1)",
            rec.route.reason.as_str()
        )
    } else {
        format!("routed: {}", rec.route.reason.as_str())
    };
    audit_seq(
        t,
        id,
        1,
        now,
        &Actor::system(),
        "opened",
        None,
        Some(IncidentState::New),
        &note,
    )?;
    // What reading the new row back would give, without reading it back.
    let inc = IncidentV1 {
        id,
        desk_id: rec.route.primary.clone(),
        camera_id: a.camera_id.clone(),
        event_type: a.event_type,
        priority,
        state: IncidentState::New,
        alert_count: 1,
        first_seen: from_us(cap),
        last_seen: from_us(cap),
        escalation: None,
        dispatch: None,
        disposition: None,
        silenced,
        alert_ids: Vec::new(),
        history: Vec::new(),
    };
    // Primary first, then copies by desk id: the order `incidents::desk_ids` reads.
    let mut copies: Vec<DeskId> = rec
        .route
        .copies
        .iter()
        .filter(|c| **c != rec.route.primary)
        .cloned()
        .collect();
    copies.sort();
    copies.dedup();
    let desks: Vec<DeskId> = std::iter::once(rec.route.primary.clone())
        .chain(copies)
        .collect();
    let change = IncidentChange {
        kind: ChangeKind::Created,
        notify: !silenced,
        incident: inc.clone(),
        desks: desks.clone(),
    };
    // The newest open incident is the one later alerts of the batch consider, as the
    // per-alert query (`ORDER BY last_seen DESC`) would.
    let newer = slot.as_ref().is_none_or(|cur| us(cur.inc.last_seen) <= cap);
    if newer {
        if let Some(old) = slot.take() {
            write_joins(t, &old, now)?;
        }
        *slot = Some(Open {
            inc,
            severity: a.severity,
            desks: Some(desks),
            joined: 0,
        });
    }
    Ok(change)
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
