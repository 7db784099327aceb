//! Cameras with health, desks and statistics, the duty level, silences.

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use crate::store::{DeskStats, NewSilence, Silence, SilenceScope};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use xueliang_core::contract::{CameraV1, DeskV1, DutyLevel, EventType, StreamState};
use xueliang_core::{CameraId, DeskId};

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CameraStatus {
    #[serde(flatten)]
    pub camera: CameraV1,
    /// The desk its alerts go to by default.
    pub desk_id: DeskId,
    pub jurisdiction: Option<String>,
    /// `ok`, or `fault` while a camera-fault incident (video loss, frozen, covered) is open.
    pub health: String,
    pub faults: Vec<EventType>,
    pub enabled: bool,
    /// The latest status its edge reported (absent: no edge ever reported it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LiveStatus>,
}

/// What the edge running a camera last said about it (the status topic).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LiveStatus {
    pub state: StreamState,
    /// The edge that runs it.
    pub node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_at: Option<DateTime<Utc>>,
    pub fps_received: f32,
    pub fps_analysed: f32,
    pub reconnects: u64,
    /// When the edge wrote it (the edge's clock).
    pub observed_at: DateTime<Utc>,
    /// Seconds since this dispatcher read it live; absent when it was read only as history
    /// at start (nobody has reported the camera since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard_s_ago: Option<u64>,
}

impl LiveStatus {
    fn from_entry(e: crate::camera_status::board::Entry, now: std::time::Instant) -> LiveStatus {
        let s = e.status;
        LiveStatus {
            state: s.state,
            node: s.node,
            reason: s.reason,
            last_frame_at: s.last_frame_at,
            fps_received: s.fps_received,
            fps_analysed: s.fps_analysed,
            reconnects: s.reconnects,
            observed_at: s.observed_at,
            heard_s_ago: e
                .live_at
                .map(|t| now.saturating_duration_since(t).as_secs()),
        }
    }
}

pub async fn cameras(
    State(st): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<CameraStatus>>, ApiError> {
    let faults = st.store.camera_faults().await?;
    let now = std::time::Instant::now();
    let board = st.status.lock();
    let snap = st.catalog.snapshot();
    let out = snap
        .cameras
        .iter()
        .filter(|c| caller.is_centre() || c.desk_id == caller.user.desk_id)
        .map(|c| {
            let f: Vec<EventType> = faults
                .iter()
                .filter(|r| r.camera_id == c.config.id)
                .map(|r| r.event_type)
                .collect();
            CameraStatus {
                camera: c.config.to_contract(),
                desk_id: c.desk_id.clone(),
                jurisdiction: c.jurisdiction.clone(),
                health: if f.is_empty() { "ok" } else { "fault" }.into(),
                faults: f,
                enabled: c.config.enabled,
                status: board
                    .entries
                    .get(&c.config.id)
                    .cloned()
                    .map(|e| LiveStatus::from_entry(e, now)),
            }
        })
        .collect();
    Ok(Json(out))
}

pub async fn desks(State(st): State<ApiState>, _caller: Caller) -> Json<Vec<DeskV1>> {
    Json(st.desks.as_ref().clone())
}

pub async fn stats(
    State(st): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<DeskStats>>, ApiError> {
    caller.require_centre("see every desk's statistics")?;
    Ok(Json(st.store.desk_stats().await?))
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyLevelBody {
    /// 平时 `normal`, 特殊 `special`, 战时 `wartime`.
    pub level: DutyLevel,
}

pub async fn get_duty(
    State(st): State<ApiState>,
    _caller: Caller,
) -> Result<Json<DutyLevelBody>, ApiError> {
    Ok(Json(DutyLevelBody {
        level: st.store.duty_level().await?,
    }))
}

pub async fn put_duty(
    State(st): State<ApiState>,
    caller: Caller,
    Json(b): Json<DutyLevelBody>,
) -> Result<Json<DutyLevelBody>, ApiError> {
    caller.require_centre("set the duty level")?;
    let changes = st.store.set_duty_level(b.level, caller.actor()).await?;
    st.hub.publish_duty(b.level);
    for c in changes {
        st.hub.publish(c);
    }
    Ok(Json(b))
}

pub async fn list_silences(
    State(st): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<Silence>>, ApiError> {
    let all = st.store.list_silences().await?;
    Ok(Json(
        all.into_iter()
            .filter(|s| caller.is_centre() || may_silence(&st, &caller, s.scope, &s.value))
            .collect(),
    ))
}

/// A station may silence its own desk and its own cameras; the centre anything.
fn may_silence(st: &ApiState, caller: &Caller, scope: SilenceScope, value: &str) -> bool {
    caller.is_centre()
        || match scope {
            SilenceScope::Desk => value == caller.user.desk_id.as_str(),
            SilenceScope::Camera => CameraId::new(value)
                .ok()
                .and_then(|id| st.camera_entry(&id))
                .is_some_and(|c| c.desk_id == caller.user.desk_id),
            SilenceScope::Jurisdiction => false,
        }
}

pub async fn add_silence(
    State(st): State<ApiState>,
    caller: Caller,
    Json(b): Json<NewSilence>,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    if !may_silence(&st, &caller, b.scope, &b.value) {
        caller.refused(
            "silence_scope",
            &format!("silence {} {}", b.scope.as_str(), b.value),
        );
        return Err(ApiError::forbidden(
            "a station may silence only its own desk or its own cameras",
        ));
    }
    let now = st.clock.now();
    if b.ends_at <= b.starts_at || b.ends_at <= now {
        return Err(ApiError::bad_request(
            "ends_at must be later than starts_at and than now",
        ));
    }
    // Bounded for everyone, tighter for a station: a desk cannot opt out of escalation for
    // long, and never for P1 (the store ignores silences for P1 incidents).
    let (limit, key) = if caller.is_centre() {
        (st.silence_limits.any, "dispatcher.max_silence_s")
    } else {
        (
            st.silence_limits.station,
            "dispatcher.max_station_silence_s",
        )
    };
    let reach = (b.ends_at - now).to_std().unwrap_or_default();
    if reach > limit {
        caller.refused(
            "silence_too_long",
            &format!(
                "silence {} {} until {}",
                b.scope.as_str(),
                b.value,
                b.ends_at
            ),
        );
        let who = if caller.is_centre() {
            "a silence"
        } else {
            "a station's silence"
        };
        return Err(ApiError::forbidden(format!(
            "{who} may reach at most {} h ahead ({key}); this one ends in {} h{}",
            limit.as_secs() / 3600,
            reach.as_secs() / 3600,
            if caller.is_centre() {
                ""
            } else {
                " — ask the district centre for a longer one"
            }
        )));
    }
    let s = st.store.add_silence(b, caller.actor()).await?;
    tracing::info!(silence = %s.id, scope = s.scope.as_str(), value = %s.value, by = %caller.user.username, "silence added");
    Ok((StatusCode::CREATED, Json(s)))
}

pub async fn expire_silence(
    State(st): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let all = st.store.list_silences().await?;
    let Some(s) = all.iter().find(|s| s.id == id) else {
        return Err(ApiError::not_found(format!("no active silence {id}")));
    };
    if !may_silence(&st, &caller, s.scope, &s.value) {
        caller.refused("other_desk", &format!("silence {id}"));
        return Err(ApiError::not_found(format!("no active silence {id}")));
    }
    st.store.expire_silence(id, caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
