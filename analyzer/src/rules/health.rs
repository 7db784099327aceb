//! Camera-health events (video loss, frozen picture, lens covered) are detected by the health
//! monitor ([`crate::health`], on the luma statistics ingest measures per frame), not by rules;
//! this turns them into the same [`RuleEvent`] so one path publishes everything. The monitor
//! already reports each fault once per episode, so no cooldown applies here.

use super::RuleEvent;
use chrono::{DateTime, Utc};
use xueliang_core::CameraId;
use xueliang_core::contract::{EventType, Severity};

/// A camera fault as the health monitor reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CameraFault {
    /// No frame for the configured time (视频丢失).
    VideoLoss,
    /// The picture stopped changing (画面冻结).
    FrozenPicture,
    /// The lens is covered or the picture black (遮挡).
    LensCovered,
}

impl CameraFault {
    pub fn event_type(self) -> EventType {
        match self {
            CameraFault::VideoLoss => EventType::VideoLoss,
            CameraFault::FrozenPicture => EventType::FrozenPicture,
            CameraFault::LensCovered => EventType::LensCovered,
        }
    }

    /// Losing or covering a camera is how tampering looks, so both are major; a frozen
    /// picture is more often an encoder fault.
    pub fn default_severity(self) -> Severity {
        match self {
            CameraFault::VideoLoss | CameraFault::LensCovered => Severity::Major,
            CameraFault::FrozenPicture => Severity::Minor,
        }
    }

    fn label(self) -> &'static str {
        match self {
            CameraFault::VideoLoss => "video loss (视频丢失)",
            CameraFault::FrozenPicture => "frozen picture (画面冻结)",
            CameraFault::LensCovered => "lens covered (遮挡)",
        }
    }
}

impl RuleEvent {
    /// The event for a camera fault detected at `at`; `detail` (e.g. "no frame for 12 s") is
    /// appended to the summary when not empty.
    pub fn camera_fault(
        camera_id: CameraId,
        fault: CameraFault,
        at: DateTime<Utc>,
        detail: &str,
    ) -> RuleEvent {
        let event_type = fault.event_type();
        let summary = if detail.is_empty() {
            fault.label().to_string()
        } else {
            format!("{}: {detail}", fault.label())
        };
        RuleEvent {
            camera_id,
            rule_id: event_type.as_str().to_string(),
            event_type,
            severity: fault.default_severity(),
            at,
            frame_size: None,
            objects: Vec::new(),
            zone_id: None,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_becomes_a_valid_alert() {
        let cam = CameraId::new("44030400001310000001").unwrap();
        let at = DateTime::parse_from_rfc3339("2025-03-01T02:00:00Z")
            .unwrap()
            .to_utc();
        let ev = RuleEvent::camera_fault(cam, CameraFault::VideoLoss, at, "no frame for 12 s");
        assert_eq!(ev.summary, "video loss (视频丢失): no frame for 12 s");
        let alert = ev.to_alert();
        assert!(alert.event_type.is_camera_fault());
        assert_eq!(alert.rule_id, "video_loss");
        alert.validate().unwrap();
    }
}
