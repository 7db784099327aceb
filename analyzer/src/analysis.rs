//! One camera's analysis after detection: detections → tracker → rules, one step per analysed
//! frame. The pipeline, the tracker replay and `xueliang analyze-file` all step through this
//! one type, so a recording replayed offline meets exactly the logic that runs live.

use crate::rules::{RuleEngine, RuleEvent};
use crate::tracker::{Tracker, TrackerConfig};
use crate::types::{Detection, Observation, TrackedObject};
use chrono::{DateTime, Utc};
use std::time::Duration;
use xueliang_core::CameraId;
use xueliang_core::config::Rule;

/// The tracker and rule state of one camera.
pub struct CameraAnalysis {
    tracker: Tracker,
    rules: RuleEngine,
    obs: Observation,
}

impl CameraAnalysis {
    /// The default tracker and `rules` (evaluated in local time at `utc_offset_s`).
    pub fn new(camera: CameraId, rules: Vec<Rule>, utc_offset_s: i32) -> Self {
        Self::with_parts(
            Tracker::new(TrackerConfig::default()),
            RuleEngine::new(camera, rules, utc_offset_s),
        )
    }

    /// From a tracker and a rule engine built elsewhere (tests tune the tracker).
    pub fn with_parts(tracker: Tracker, rules: RuleEngine) -> Self {
        CameraAnalysis {
            tracker,
            rules,
            obs: Observation {
                at: DateTime::UNIX_EPOCH,
                frame_size: [0, 0],
                objects: Vec::new(),
            },
        }
    }

    /// One analysed frame: `detections` in the camera's pixels (`frame_size`), stream time
    /// `pts` (drives the motion model), capture time `at` (drives time-based rules). Returns
    /// the rule events; the tracked objects are [`objects`](Self::objects) until the next step.
    pub fn step(
        &mut self,
        pts: Duration,
        at: DateTime<Utc>,
        frame_size: [u32; 2],
        detections: &[Detection],
    ) -> Vec<RuleEvent> {
        self.tracker.set_frame_size(frame_size);
        self.tracker
            .update_into(pts, detections, &mut self.obs.objects);
        self.obs.at = at;
        self.obs.frame_size = frame_size;
        self.rules.evaluate(&self.obs)
    }

    /// What the tracker reported at the last step.
    pub fn objects(&self) -> &[TrackedObject] {
        &self.obs.objects
    }
}
