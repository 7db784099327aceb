//! Incident handlers: the queue, one incident with its snapshots and history, the actions.

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use crate::store::{Action, IncidentChange, IncidentFilter, RouteRole};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::Response;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use xueliang_core::DeskId;
use xueliang_core::contract::{
    DetectedObject, Disposition, EventType, IncidentV1, Severity, Snapshot,
};

/// An incident in a queue, with what a desk shows beside it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct IncidentSummary {
    #[serde(flatten)]
    pub incident: IncidentV1,
    pub camera_name: String,
    /// The camera's jurisdiction (station area) name, if any.
    pub place: String,
}

pub async fn list(
    State(st): State<ApiState>,
    caller: Caller,
    Query(mut filter): Query<IncidentFilter>,
) -> Result<Json<Vec<IncidentSummary>>, ApiError> {
    filter.visible_to = (!caller.is_centre()).then(|| caller.user.desk_id.clone());
    let rows = st.store.list_incidents(filter).await?;
    let snap = st.catalog.snapshot();
    Ok(Json(
        rows.into_iter()
            .map(|i| ApiState::summarise(&snap, i))
            .collect(),
    ))
}

/// One alert of an incident, without the image bytes (fetch them from `snapshot_url`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AlertBrief {
    pub alert_id: Uuid,
    pub captured_at: DateTime<Utc>,
    pub severity: Severity,
    pub event_type: EventType,
    pub rule_id: String,
    pub summary: String,
    pub zone_id: Option<String>,
    pub frame_size: Option<[u32; 2]>,
    pub objects: Vec<DetectedObject>,
    pub snapshot_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeskRoute {
    pub desk_id: DeskId,
    pub desk_name: String,
    /// `primary`, `copy` or `escalation`.
    pub role: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub summary: IncidentSummary,
    pub desks: Vec<DeskRoute>,
    pub alerts: Vec<AlertBrief>,
    pub camera: Option<xueliang_core::contract::CameraV1>,
}

/// Loads an incident the caller may see; 404 otherwise, so other stations' incidents do not
/// even reveal their existence.
async fn visible(
    st: &ApiState,
    caller: &Caller,
    id: Uuid,
) -> Result<(IncidentV1, Vec<(DeskId, RouteRole)>), ApiError> {
    match st.store.get_incident(id).await? {
        Some((inc, desks)) if caller.may_see(desks.iter().map(|(d, _)| d)) => Ok((inc, desks)),
        found => {
            if found.is_some() {
                caller.refused("other_desk", &format!("incident {id}"));
            }
            Err(ApiError::not_found(format!(
                "no incident {id} on your desk"
            )))
        }
    }
}

pub async fn get(
    State(st): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let (inc, desks) = visible(&st, &caller, id).await?;
    let alerts = st.store.incident_alerts(id).await?;
    let camera = st.camera(&inc.camera_id).map(|c| c.to_contract());
    let alerts = alerts
        .into_iter()
        .map(|s| {
            let a = s.alert;
            let snapshot_url = match &a.snapshot {
                Some(Snapshot::Inline { .. }) => Some(format!(
                    "/api/v1/incidents/{id}/alerts/{}/snapshot",
                    a.alert_id
                )),
                Some(Snapshot::Url { url, .. }) => Some(url.clone()),
                None => None,
            };
            AlertBrief {
                alert_id: a.alert_id,
                captured_at: a.captured_at,
                severity: a.severity,
                event_type: a.event_type,
                rule_id: a.rule_id,
                summary: a.summary,
                zone_id: a.zone_id,
                frame_size: a.frame_size,
                objects: a.objects,
                snapshot_url,
            }
        })
        .collect();
    let desks = desks
        .into_iter()
        .map(|(d, role)| DeskRoute {
            desk_name: st.desk(&d).map(|x| x.name.clone()).unwrap_or_default(),
            desk_id: d,
            role: role.as_str().into(),
        })
        .collect();
    Ok(Json(IncidentDetail {
        summary: ApiState::summarise(&st.catalog.snapshot(), inc),
        desks,
        alerts,
        camera,
    }))
}

pub async fn snapshot(
    State(st): State<ApiState>,
    caller: Caller,
    Path((id, alert_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    visible(&st, &caller, id).await?;
    let missing = || ApiError::not_found(format!("no snapshot for alert {alert_id}"));
    let alert = st.store.get_alert(alert_id).await?.ok_or_else(missing)?;
    if alert.incident_id != Some(id) {
        return Err(missing());
    }
    let Some(Snapshot::Inline {
        content_type,
        data_base64,
    }) = alert.alert.snapshot
    else {
        return Err(missing());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data_base64)
        .map_err(|_| missing())?;
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "private, max-age=86400, immutable")
        .body(Body::from(bytes))
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// Patrol unit call sign, e.g. 巡逻一组.
    pub unit: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub disposition: Disposition,
    #[serde(default)]
    pub note: String,
}

async fn act(
    st: &ApiState,
    caller: &Caller,
    id: Uuid,
    action: Action,
) -> Result<Json<IncidentChange>, ApiError> {
    visible(st, caller, id).await?;
    let change = st.store.act(id, action, caller.actor()).await?;
    tracing::info!(incident = %id, user = %caller.user.username, kind = ?change.kind, "incident action");
    st.hub.publish(change.clone());
    Ok(Json(change))
}

pub async fn ack(
    State(st): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    body: Option<Json<AckRequest>>,
) -> Result<Json<IncidentChange>, ApiError> {
    let note = body.map(|b| b.0.note).unwrap_or_default();
    act(&st, &caller, id, Action::Acknowledge { note }).await
}

pub async fn dispatch(
    State(st): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<DispatchRequest>,
) -> Result<Json<IncidentChange>, ApiError> {
    act(
        &st,
        &caller,
        id,
        Action::Dispatch {
            unit: b.unit,
            note: b.note,
        },
    )
    .await
}

pub async fn close(
    State(st): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<CloseRequest>,
) -> Result<Json<IncidentChange>, ApiError> {
    act(
        &st,
        &caller,
        id,
        Action::Close {
            disposition: b.disposition,
            note: b.note,
        },
    )
    .await
}
