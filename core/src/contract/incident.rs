use crate::{CameraId, DeskId, contract::EventType};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An incident: one or more alerts of the same camera and event type, owned by one desk,
/// moving through new → acknowledged → dispatched → closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentV1 {
    pub id: Uuid,
    pub desk_id: DeskId,
    pub camera_id: CameraId,
    pub event_type: EventType,
    pub priority: Priority,
    pub state: IncidentState,
    pub alert_count: u32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Set when the SLA for acknowledgement passed and the incident was raised to the centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<DispatchInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// Notification was suppressed by a silence (the incident is still recorded).
    #[serde(default)]
    pub silenced: bool,
    /// Every alert that joined the incident, oldest first.
    #[serde(default)]
    pub alert_ids: Vec<Uuid>,
    /// Every transition, oldest first.
    #[serde(default)]
    pub history: Vec<AuditEntry>,
}

/// P1 is the most urgent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    New,
    Acknowledged,
    Dispatched,
    Closed,
}

impl IncidentState {
    /// The lifecycle only moves forward; closing is allowed from any open state.
    pub fn can_move_to(self, next: IncidentState) -> bool {
        use IncidentState::*;
        matches!(
            (self, next),
            (New, Acknowledged)
                | (Acknowledged, Dispatched)
                | (New | Acknowledged | Dispatched, Closed)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub at: DateTime<Utc>,
    pub to_desk: DeskId,
    /// How long the incident waited unacknowledged before escalating.
    pub waited_s: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchInfo {
    /// Patrol unit call sign, e.g. 巡逻一组.
    pub unit: String,
    #[serde(default)]
    pub note: String,
}

/// How an incident was closed (处置结果).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    TrueAlarm,
    FalseAlarm,
    Duplicate,
    HandedOver,
    Resolved,
}

/// One audited action on an incident: who, when, from where, what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// User name, or `system` for automatic actions (grouping, escalation).
    pub actor: String,
    /// Client address the action came from; empty for system actions.
    #[serde(default)]
    pub from_addr: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_state: Option<IncidentState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_state: Option<IncidentState>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}
