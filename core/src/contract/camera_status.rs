//! Camera status on the status topic (`kafka.status_topic`, compacted, key = camera id): what
//! the edge running a camera says about it every `cluster.status_interval_ms`.
//!
//! Unlike the other contract types this one accepts unknown fields: it is written by every
//! edge and read by every dispatcher, and during a rolling upgrade a newer edge may add a
//! field an older dispatcher does not know. A breaking change is a new `schema_version`.

use crate::CameraId;
use crate::contract::EventType;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only value `schema_version` may take in a [`CameraStatusV1`].
pub const CAMERA_STATUS_SCHEMA_VERSION: u32 = 1;

/// The RTSP session's state as the edge sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// Opening the session (DESCRIBE/SETUP/PLAY), or waiting to retry.
    Connecting,
    /// Frames arrive.
    Streaming,
    /// The session is open but no frame arrived for a while.
    Stalled,
    /// The camera cannot be reached; retrying with backoff.
    Offline,
    /// The camera refused the credentials.
    AuthFailed,
    /// The camera offers no H.264/H.265 video.
    UnsupportedCodec,
    /// `enabled = false`: no session.
    Disabled,
}

impl StreamState {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamState::Connecting => "connecting",
            StreamState::Streaming => "streaming",
            StreamState::Stalled => "stalled",
            StreamState::Offline => "offline",
            StreamState::AuthFailed => "auth_failed",
            StreamState::UnsupportedCodec => "unsupported_codec",
            StreamState::Disabled => "disabled",
        }
    }
}

/// One camera's status, as written by the edge that runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CameraStatusV1 {
    /// Always 1 for this type. Readers skip other values.
    #[schemars(range(min = 1, max = 1))]
    pub schema_version: u32,
    pub camera_id: CameraId,
    /// The edge (`node.name`) that runs the camera.
    pub node: String,
    pub state: StreamState,
    /// Why the camera is in this state (for failures); never a credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the camera entered `state` (the edge's clock).
    pub since: DateTime<Utc>,
    /// When the last encoded frame arrived (the edge's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_at: Option<DateTime<Utc>>,
    /// Encoded frames received per second over the last interval.
    pub fps_received: f32,
    /// Frames decoded and handed to analysis per second over the last interval.
    pub fps_analysed: f32,
    /// Camera faults (video loss, frozen, covered) active on the edge now.
    #[serde(default)]
    pub faults: Vec<EventType>,
    #[serde(default)]
    pub reconnects: u64,
    /// When the edge wrote this record (the edge's clock).
    pub observed_at: DateTime<Utc>,
}

/// Why a value on the status topic is not a [`CameraStatusV1`].
#[derive(Debug, thiserror::Error)]
pub enum CameraStatusDecodeError {
    #[error("not valid camera-status JSON at {path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("schema_version {0} is not supported (this build reads 1)")]
    Version(u32),
    #[error("camera_id {found:?} does not match the record key {key:?}")]
    KeyMismatch { key: String, found: String },
}

impl CameraStatusV1 {
    /// Parses a record of the status topic; `key` is the record's key, which must be the
    /// camera id (a record under another camera's key would overwrite its status).
    pub fn from_record(key: &str, bytes: &[u8]) -> Result<Self, CameraStatusDecodeError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let s: CameraStatusV1 =
            serde_path_to_error::deserialize(de).map_err(|e| CameraStatusDecodeError::Json {
                path: e.path().to_string(),
                source: e.into_inner(),
            })?;
        if s.schema_version != CAMERA_STATUS_SCHEMA_VERSION {
            return Err(CameraStatusDecodeError::Version(s.schema_version));
        }
        if s.camera_id.as_str() != key {
            return Err(CameraStatusDecodeError::KeyMismatch {
                key: key.to_string(),
                found: s.camera_id.to_string(),
            });
        }
        Ok(s)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("CameraStatusV1 always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CameraStatusV1 {
        let t = "2026-12-08T02:00:00Z".parse().unwrap();
        CameraStatusV1 {
            schema_version: 1,
            camera_id: CameraId::new("44030400001320000001").unwrap(),
            node: "edge-1".into(),
            state: StreamState::Streaming,
            reason: None,
            since: t,
            last_frame_at: Some(t),
            fps_received: 25.0,
            fps_analysed: 1.0,
            faults: vec![EventType::FrozenPicture],
            reconnects: 0,
            observed_at: t,
        }
    }

    #[test]
    fn round_trips_and_keeps_reading_a_newer_edges_fields() {
        let s = sample();
        let back = CameraStatusV1::from_record("44030400001320000001", &s.to_json()).unwrap();
        assert_eq!(back, s);
        let mut v: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        v["gpu_util"] = serde_json::json!(0.5);
        let newer = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            CameraStatusV1::from_record("44030400001320000001", &newer).unwrap(),
            s
        );
    }

    #[test]
    fn refuses_another_version_a_wrong_key_and_names_the_bad_field() {
        let s = sample();
        let mut v: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        v["schema_version"] = serde_json::json!(2);
        let e =
            CameraStatusV1::from_record("44030400001320000001", &serde_json::to_vec(&v).unwrap())
                .unwrap_err();
        assert!(matches!(e, CameraStatusDecodeError::Version(2)), "{e}");
        let e = CameraStatusV1::from_record("other", &s.to_json()).unwrap_err();
        assert!(
            e.to_string().contains("does not match the record key"),
            "{e}"
        );
        let mut v: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        v["state"] = serde_json::json!("dancing");
        let e =
            CameraStatusV1::from_record("44030400001320000001", &serde_json::to_vec(&v).unwrap())
                .unwrap_err();
        assert!(e.to_string().contains("at state"), "{e}");
    }
}
