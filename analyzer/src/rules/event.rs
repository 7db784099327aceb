//! What the rules emit, and its conversion to the wire contract.

use crate::types::TrackedObject;
use chrono::{DateTime, Utc};
use xueliang_core::CameraId;
use xueliang_core::contract::{AlertV1, DetectedObject, EventType, Severity};

/// One alert-worthy event on one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleEvent {
    pub camera_id: CameraId,
    /// The configured rule that fired; for camera-health events, the event type's wire name.
    pub rule_id: String,
    pub event_type: EventType,
    pub severity: Severity,
    /// Capture time of the frame that made the rule fire.
    pub at: DateTime<Utc>,
    /// Size of that frame (the boxes' coordinate space); `None` for camera-health events.
    pub frame_size: Option<[u32; 2]>,
    /// The objects that made the rule fire, as seen in that frame.
    pub objects: Vec<TrackedObject>,
    /// The zone or line involved: the rule id, since each rule carries its own geometry.
    pub zone_id: Option<String>,
    /// Short human-readable detail, English with the Chinese event name, e.g.
    /// "3 persons in zone plaza for 42 s (人员聚集)".
    pub summary: String,
}

impl RuleEvent {
    /// The Alert v1 for this event: fresh alert id, all timestamps at `at` (the producer sets
    /// `detected_at` / `published_at`), no snapshot or model yet.
    pub fn to_alert(&self) -> AlertV1 {
        let mut a = AlertV1::new(
            self.camera_id.clone(),
            self.event_type,
            self.severity,
            self.rule_id.clone(),
            self.at,
        );
        a.objects = self
            .objects
            .iter()
            .map(|o| DetectedObject {
                class: xueliang_core::labels::COCO80
                    .get(usize::from(o.class))
                    .copied()
                    .unwrap_or("object")
                    .to_string(),
                score: if o.score.is_finite() {
                    o.score.clamp(0.0, 1.0)
                } else {
                    0.0
                },
                bbox: o.bbox,
                track: Some(o.track_id),
            })
            .collect();
        a.zone_id = self.zone_id.clone();
        a.frame_size = self.frame_size;
        a.summary = self.summary.clone();
        a
    }
}
