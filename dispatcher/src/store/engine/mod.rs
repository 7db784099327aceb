//! The store's logic, written once against [`Tx`](super::sql::Tx) for both databases.

pub mod alerts;
pub mod duty;
pub mod incidents;
pub mod offsets;
pub mod silences;
pub mod users;

use super::StoreError;
use super::sql::{Tx, V};
use chrono::{DateTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;
use xueliang_core::contract::{Disposition, IncidentState, IncidentV1};
use xueliang_core::{CameraId, DeskId};

/// Who did something, and from where (for the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    /// Client address; empty for the system.
    pub from_addr: String,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            user: "system".into(),
            from_addr: String::new(),
        }
    }
}

/// An operator's action on an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Acknowledge {
        #[serde(default)]
        note: String,
    },
    Dispatch {
        /// Patrol unit call sign, e.g. 巡逻一组.
        unit: String,
        #[serde(default)]
        note: String,
    },
    Close {
        disposition: Disposition,
        #[serde(default)]
        note: String,
    },
}

impl Action {
    pub fn target(&self) -> IncidentState {
        match self {
            Action::Acknowledge { .. } => IncidentState::Acknowledged,
            Action::Dispatch { .. } => IncidentState::Dispatched,
            Action::Close { .. } => IncidentState::Closed,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::Acknowledge { .. } => "acknowledged",
            Action::Dispatch { .. } => "dispatched",
            Action::Close { .. } => "closed",
        }
    }
}

/// What happened to an incident, for the live push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    /// Another alert joined.
    Updated,
    Escalated,
    Acknowledged,
    Dispatched,
    Closed,
    /// The duty level changed its priority.
    Reprioritised,
}

/// One incident after a change, and who may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentChange {
    pub kind: ChangeKind,
    /// The incident after the change (without history).
    pub incident: IncidentV1,
    /// Desks it is routed to (primary, copies, escalation).
    pub desks: Vec<DeskId>,
    /// `false` while a silence suppresses notification.
    pub notify: bool,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct IncidentFilter {
    /// Only incidents routed to this desk (primary, copy or escalation); `None`: all.
    #[serde(skip)]
    pub visible_to: Option<DeskId>,
    #[serde(default)]
    pub state: Option<IncidentState>,
    /// `true`: every state but closed.
    #[serde(default)]
    pub open: Option<bool>,
    #[serde(default)]
    pub event_type: Option<xueliang_core::contract::EventType>,
    #[serde(default)]
    pub camera_id: Option<CameraId>,
    #[serde(default)]
    pub escalated: Option<bool>,
    /// Most rows returned (default 200, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// What a silence covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SilenceScope {
    Camera,
    /// A police station's (or any desk's) incidents.
    Desk,
    /// Cameras inside one jurisdiction polygon.
    Jurisdiction,
}

impl SilenceScope {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceScope::Camera => "camera",
            SilenceScope::Desk => "desk",
            SilenceScope::Jurisdiction => "jurisdiction",
        }
    }
}

/// A maintenance window: alerts it matches are recorded but not notified or escalated.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub scope: SilenceScope,
    /// Camera id, desk id or jurisdiction id.
    pub value: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Silence {
    pub id: Uuid,
    pub scope: SilenceScope,
    pub value: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub comment: String,
    pub created_by: String,
}

/// A desk user as the API sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub username: String,
    pub desk_id: DeskId,
    pub display_name: String,
}

/// A user with the password hash (argon2 PHC string); never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

/// Per-desk counts for the centre view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeskStats {
    pub desk_id: DeskId,
    /// Open incidents by state.
    pub new: u64,
    pub acknowledged: u64,
    pub dispatched: u64,
    /// Open incidents escalated to the centre.
    pub escalated: u64,
    /// Incidents closed since the start of the store's day (UTC).
    pub closed_today: u64,
    /// Of the incidents acknowledged (ever), how many within their SLA; `None` when none.
    pub ack_within_sla: Option<f64>,
}

/// A camera with an open camera-fault incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CameraHealthRow {
    pub camera_id: CameraId,
    pub event_type: xueliang_core::contract::EventType,
    pub incident_id: Uuid,
    pub since: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

// ---- shared helpers ------------------------------------------------------------------------

/// Timestamps are stored as microseconds since the epoch: sortable and portable.
pub fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_us(v: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(v).single().unwrap_or_default()
}

/// The wire name of a serde enum (`EventType::CrowdGathering` → `crowd_gathering`).
pub fn enum_str<T: Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(s)) => s,
        other => panic!("not a unit enum: {other:?}"),
    }
}

pub fn parse_enum<T: DeserializeOwned>(s: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::corrupt(what, format!("{s:?}: {e}")))
}

pub fn parse_uuid(s: &str, what: &'static str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::corrupt(what, format!("{s:?}: {e}")))
}

pub fn parse_desk(s: &str) -> Result<DeskId, StoreError> {
    DeskId::new(s).map_err(|e| StoreError::corrupt("desk id", e.to_string()))
}

/// Appends an audit entry to an incident.
#[allow(clippy::too_many_arguments)]
pub fn audit(
    t: &mut dyn Tx,
    incident: Uuid,
    at: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    from: Option<IncidentState>,
    to: Option<IncidentState>,
    note: &str,
) -> Result<(), StoreError> {
    let seq = t
        .query_opt(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM audit WHERE incident_id = $1",
            &[V::from(incident.to_string())],
        )?
        .and_then(|r| r.first().and_then(V::int))
        .unwrap_or(1);
    audit_seq(t, incident, seq, at, actor, action, from, to, note)
}

/// Appends audit entry number `seq` (1-based) — for an incident created in this transaction,
/// 1, without [`audit`]'s sequence lookup.
#[allow(clippy::too_many_arguments)]
pub fn audit_seq(
    t: &mut dyn Tx,
    incident: Uuid,
    seq: i64,
    at: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    from: Option<IncidentState>,
    to: Option<IncidentState>,
    note: &str,
) -> Result<(), StoreError> {
    let id = incident.to_string();
    t.exec(
        "INSERT INTO audit (incident_id, seq, at, actor, from_addr, action, from_state, \
         to_state, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            V::from(id),
            V::I(seq),
            V::I(us(at)),
            V::from(&actor.user),
            V::from(&actor.from_addr),
            V::from(action),
            V::from(from.map(|s| enum_str(&s))),
            V::from(to.map(|s| enum_str(&s))),
            V::from(note),
        ],
    )?;
    Ok(())
}
