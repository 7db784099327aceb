use crate::{CameraId, ids::DeskId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The only value `schema_version` may take in an [`AlertV1`].
pub const ALERT_SCHEMA_VERSION: u32 = 1;

/// An alert as published to Kafka (`xueliang.alerts`, key = camera id, value = this JSON).
///
/// `alert_id` is a UUID v7: time-ordered, unique per event, and the idempotency key the
/// dispatcher uses so that redelivery never creates a second incident entry.
///
/// **How it evolves.** Analyzers and dispatchers are upgraded at different times (a rolling
/// upgrade of a cluster), so within version 1 a reader accepts fields it does not know —
/// here and in the nested objects — and the dispatcher stores the alert's JSON as received,
/// unknown fields included. Within v1 only optional fields may be added. Anything else — a
/// field removed, renamed or made required, a type changed, a new `event_type`, `severity`
/// or snapshot `kind` — is a breaking change: it needs `schema_version` 2, which a v1
/// dispatcher dead-letters with the reason `schema_version`, naming both versions. Upgrade
/// the dispatchers before the analyzers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertV1 {
    /// Always 1 for this type. Consumers reject other values.
    #[schemars(range(min = 1, max = 1))]
    pub schema_version: u32,
    /// UUID v7; the idempotency key.
    pub alert_id: Uuid,
    pub camera_id: CameraId,
    pub event_type: EventType,
    pub severity: Severity,
    /// The configured rule that fired (unique within the camera), e.g. `gate-intrusion`.
    pub rule_id: String,
    /// When the camera captured the frame that triggered the alert.
    pub captured_at: DateTime<Utc>,
    /// When the analyzer decided the rule fired.
    pub detected_at: DateTime<Utc>,
    /// When the alert was handed to the Kafka producer.
    pub published_at: DateTime<Utc>,
    /// The objects that made the rule fire; empty for camera-health events.
    #[serde(default)]
    pub objects: Vec<DetectedObject>,
    /// The zone or line (as configured on the camera) involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Width and height in pixels of the source frame the boxes refer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_size: Option<[u32; 2]>,
    /// Evidence: a JPEG of the frame with the boxes and the zone drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// The model that produced the detections; absent for camera-health events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    /// Human-readable detail, e.g. "3 persons for 42 s in zone plaza".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// A desk the producer asks to route to (set only by explicit operator tooling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_hint: Option<DeskId>,
}

/// What happened. Snake-case names are the wire form and the routing matcher values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// An object of a watched class entered a zone (区域入侵).
    ZoneIntrusion,
    /// An object crossed a line in the watched direction (越线).
    LineCrossing,
    /// A person stayed in a zone longer than allowed (徘徊).
    Loitering,
    /// At least N persons in a zone for at least T seconds (人员聚集).
    CrowdGathering,
    /// A vehicle stopped in a no-parking zone (违停).
    StationaryVehicle,
    /// No frame from the camera for T seconds (视频丢失).
    VideoLoss,
    /// The picture stopped changing (画面冻结).
    FrozenPicture,
    /// The lens is covered or the picture black (遮挡).
    LensCovered,
    /// No edge has reported the camera's status for `cluster.unwatched_after_s`: nobody
    /// analyses it (分析中断). Raised by the dispatcher, never sent by an edge.
    CameraUnwatched,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::ZoneIntrusion,
        EventType::LineCrossing,
        EventType::Loitering,
        EventType::CrowdGathering,
        EventType::StationaryVehicle,
        EventType::VideoLoss,
        EventType::FrozenPicture,
        EventType::LensCovered,
        EventType::CameraUnwatched,
    ];

    /// The wire name, as used in config matchers and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ZoneIntrusion => "zone_intrusion",
            EventType::LineCrossing => "line_crossing",
            EventType::Loitering => "loitering",
            EventType::CrowdGathering => "crowd_gathering",
            EventType::StationaryVehicle => "stationary_vehicle",
            EventType::VideoLoss => "video_loss",
            EventType::FrozenPicture => "frozen_picture",
            EventType::LensCovered => "lens_covered",
            EventType::CameraUnwatched => "camera_unwatched",
        }
    }

    /// Camera-health events come from ingest, not from the detector.
    pub fn is_camera_fault(self) -> bool {
        matches!(
            self,
            EventType::VideoLoss
                | EventType::FrozenPicture
                | EventType::LensCovered
                | EventType::CameraUnwatched
        )
    }
}

/// How serious the producer thinks the event is; the dispatcher maps it (with the duty level)
/// onto an incident priority.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// One detected object in the triggering frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DetectedObject {
    /// COCO class name, e.g. `person`, `car`, `truck`.
    pub class: String,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub score: f32,
    /// `[x1, y1, x2, y2]` in source-frame pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Tracker id, stable for this object on this camera.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<u64>,
}

/// Evidence image, either carried inline or stored elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Snapshot {
    /// Base64 (standard alphabet, padded) of a JPEG.
    Inline {
        content_type: String,
        data_base64: String,
    },
    /// A URL the desk can fetch the image from.
    Url { content_type: String, url: String },
}

/// Which model produced the detections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
}

/// Why a Kafka value is not a valid [`AlertV1`]; the dispatcher puts this in the DLQ headers.
#[derive(Debug, thiserror::Error)]
pub enum AlertDecodeError {
    #[error("not valid Alert JSON at {path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "schema_version {0} is not supported: this dispatcher reads version 1, the producer is \
         newer (upgrade the dispatchers before the analyzers)"
    )]
    Version(u32),
    #[error("alert_id {0} is not a UUID v7")]
    NotV7(Uuid),
    #[error("{field} is not finite or out of range in object {index}")]
    BadObject { index: usize, field: &'static str },
}

impl AlertV1 {
    /// A new alert with a fresh UUID v7 and all three timestamps set to `captured_at`;
    /// the producer updates `detected_at` / `published_at` as it goes.
    pub fn new(
        camera_id: CameraId,
        event_type: EventType,
        severity: Severity,
        rule_id: impl Into<String>,
        captured_at: DateTime<Utc>,
    ) -> Self {
        AlertV1 {
            schema_version: ALERT_SCHEMA_VERSION,
            alert_id: Uuid::now_v7(),
            camera_id,
            event_type,
            severity,
            rule_id: rule_id.into(),
            captured_at,
            detected_at: captured_at,
            published_at: captured_at,
            objects: Vec::new(),
            zone_id: None,
            frame_size: None,
            snapshot: None,
            model: None,
            summary: String::new(),
            route_hint: None,
        }
    }

    /// Parses and validates a Kafka value; the error says where the value is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AlertDecodeError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let alert: AlertV1 =
            serde_path_to_error::deserialize(de).map_err(|e| AlertDecodeError::Json {
                path: e.path().to_string(),
                source: e.into_inner(),
            })?;
        alert.validate()?;
        Ok(alert)
    }

    /// Invariants serde cannot express.
    pub fn validate(&self) -> Result<(), AlertDecodeError> {
        if self.schema_version != ALERT_SCHEMA_VERSION {
            return Err(AlertDecodeError::Version(self.schema_version));
        }
        if self.alert_id.get_version_num() != 7 {
            return Err(AlertDecodeError::NotV7(self.alert_id));
        }
        for (index, o) in self.objects.iter().enumerate() {
            if !(0.0..=1.0).contains(&o.score) {
                return Err(AlertDecodeError::BadObject {
                    index,
                    field: "score",
                });
            }
            if o.bbox.iter().any(|v| !v.is_finite()) {
                return Err(AlertDecodeError::BadObject {
                    index,
                    field: "box",
                });
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("AlertV1 always serialises")
    }
}
