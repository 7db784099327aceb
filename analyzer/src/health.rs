//! Camera health (issue #3 part 4): video loss, frozen picture and covered/black lens, per
//! camera with that camera's thresholds, turned into alerts like any other event.
//!
//! Pure logic over what ingest already measures on every decoded frame (mean luma, luma
//! variance, an 8×8 luma thumbnail), plus a clock tick for video loss — which by definition
//! comes with no frame. Each fault is raised once per episode and re-armed only after the
//! condition has cleared, so a camera that stays dark yields one alert, not one per frame.
//!
//! Known limit: "frozen" compares thumbnails of consecutive *sampled* frames; a truly static
//! scene with a very clean encoder can look frozen. The threshold (mean absolute thumbnail
//! difference below [`FROZEN_DIFF`] for `frozen_s`) keeps sensor noise above it on real
//! cameras; raise `frozen_s` for cameras that watch empty scenes.

use crate::rules::{CameraFault, RuleEvent};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, HealthThresholds};
use xueliang_core::contract::EventType;
use xueliang_core::frame::LumaStats;

/// Mean absolute difference (0–255) of two thumbnails under which the picture is "unchanged".
pub const FROZEN_DIFF: f32 = 0.25;
/// Luma variance under which a picture is featureless (a covered lens, a cap, a wall).
pub const FEATURELESS_VARIANCE: f32 = 12.0;

pub const FAULTS_RAISED: &str = "xueliang_camera_faults_total";
pub const FAULT_ACTIVE: &str = "xueliang_camera_fault_active";

struct CameraHealth {
    thresholds: HealthThresholds,
    last_frame: Instant,
    last_thumb: Option<[u8; 64]>,
    unchanged_since: Option<Instant>,
    dark_since: Option<Instant>,
    raised: [bool; 3],
}

fn slot(f: CameraFault) -> usize {
    match f {
        CameraFault::VideoLoss => 0,
        CameraFault::FrozenPicture => 1,
        CameraFault::LensCovered => 2,
    }
}

fn fault_name(f: CameraFault) -> &'static str {
    match f {
        CameraFault::VideoLoss => "video_loss",
        CameraFault::FrozenPicture => "frozen_picture",
        CameraFault::LensCovered => "lens_covered",
    }
}

impl CameraHealth {
    fn new(thresholds: HealthThresholds, now: Instant) -> Self {
        CameraHealth {
            thresholds,
            // A camera that never delivers a frame is lost `video_loss` after it was added.
            last_frame: now,
            last_thumb: None,
            unchanged_since: None,
            dark_since: None,
            raised: [false; 3],
        }
    }
}

/// Health state of every camera.
#[derive(Default)]
pub struct HealthMonitor {
    cameras: HashMap<CameraId, CameraHealth>,
}

impl HealthMonitor {
    pub fn new(cameras: &[CameraConfig], now: Instant) -> Self {
        let mut m = HealthMonitor::default();
        m.set_cameras(cameras, now);
        m
    }

    /// Applies an inventory: new cameras start fresh, removed ones are forgotten, kept ones
    /// keep their state with the new thresholds.
    pub fn set_cameras(&mut self, cameras: &[CameraConfig], now: Instant) {
        self.cameras
            .retain(|id, _| cameras.iter().any(|c| c.enabled && &c.id == id));
        for c in cameras.iter().filter(|c| c.enabled) {
            self.cameras
                .entry(c.id.clone())
                .and_modify(|h| h.thresholds = c.health.clone())
                .or_insert_with(|| CameraHealth::new(c.health.clone(), now));
        }
    }

    /// One decoded frame of `camera`; returns faults raised by it (frozen, covered).
    pub fn observe(
        &mut self,
        camera: &CameraId,
        luma: &LumaStats,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Vec<RuleEvent> {
        let Some(h) = self.cameras.get_mut(camera) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        h.last_frame = now;
        clear(camera, h, CameraFault::VideoLoss);

        let unchanged = h.last_thumb.is_some_and(|prev| {
            let diff: u32 = prev
                .iter()
                .zip(luma.thumbnail.iter())
                .map(|(a, b)| u32::from(a.abs_diff(*b)))
                .sum();
            (diff as f32 / 64.0) < FROZEN_DIFF
        });
        h.last_thumb = Some(luma.thumbnail);
        let frozen_for = track(&mut h.unchanged_since, unchanged, now);
        if frozen_for >= h.thresholds.frozen && h.thresholds.frozen > Duration::ZERO {
            raise(
                camera,
                h,
                CameraFault::FrozenPicture,
                wall,
                &format!("picture unchanged for {} s", frozen_for.as_secs()),
                &mut out,
            );
        } else if !unchanged {
            clear(camera, h, CameraFault::FrozenPicture);
        }

        let dark =
            luma.mean < f32::from(h.thresholds.dark_luma) || luma.variance < FEATURELESS_VARIANCE;
        let dark_for = track(&mut h.dark_since, dark, now);
        if dark && dark_for >= h.thresholds.covered {
            let detail = format!(
                "dark or featureless for {} s (mean luma {:.0}, variance {:.0})",
                dark_for.as_secs(),
                luma.mean,
                luma.variance
            );
            raise(camera, h, CameraFault::LensCovered, wall, &detail, &mut out);
        } else if !dark {
            clear(camera, h, CameraFault::LensCovered);
        }
        out
    }

    /// The faults raised on `camera` and not cleared since, as event types (for its status).
    pub fn active_faults(&self, camera: &CameraId) -> Vec<EventType> {
        let Some(h) = self.cameras.get(camera) else {
            return Vec::new();
        };
        [
            CameraFault::VideoLoss,
            CameraFault::FrozenPicture,
            CameraFault::LensCovered,
        ]
        .into_iter()
        .filter(|f| h.raised[slot(*f)])
        .map(CameraFault::event_type)
        .collect()
    }

    /// Call about once a second: raises video loss for cameras silent longer than allowed.
    pub fn tick(&mut self, now: Instant, wall: DateTime<Utc>) -> Vec<RuleEvent> {
        let mut out = Vec::new();
        for (id, h) in &mut self.cameras {
            let silent = now.saturating_duration_since(h.last_frame);
            if silent >= h.thresholds.video_loss && h.thresholds.video_loss > Duration::ZERO {
                let detail = format!("no frame for {} s", silent.as_secs());
                raise(id, h, CameraFault::VideoLoss, wall, &detail, &mut out);
            }
        }
        out
    }
}

/// How long `cond` has held (zero when it does not), maintaining its start time.
fn track(since: &mut Option<Instant>, cond: bool, now: Instant) -> Duration {
    if !cond {
        *since = None;
        return Duration::ZERO;
    }
    now.saturating_duration_since(*since.get_or_insert(now))
}

fn raise(
    camera: &CameraId,
    h: &mut CameraHealth,
    fault: CameraFault,
    wall: DateTime<Utc>,
    detail: &str,
    out: &mut Vec<RuleEvent>,
) {
    if std::mem::replace(&mut h.raised[slot(fault)], true) {
        return;
    }
    let name = fault_name(fault);
    metrics::counter!(FAULTS_RAISED, "camera" => camera.to_string(), "fault" => name).increment(1);
    metrics::gauge!(FAULT_ACTIVE, "camera" => camera.to_string(), "fault" => name).set(1.0);
    tracing::warn!(camera = %camera, fault = name, detail, "camera fault");
    out.push(RuleEvent::camera_fault(camera.clone(), fault, wall, detail));
}

fn clear(camera: &CameraId, h: &mut CameraHealth, fault: CameraFault) {
    if std::mem::replace(&mut h.raised[slot(fault)], false) {
        let name = fault_name(fault);
        metrics::gauge!(FAULT_ACTIVE, "camera" => camera.to_string(), "fault" => name).set(0.0);
        tracing::info!(camera = %camera, fault = name, "camera fault cleared");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(id: &str) -> CameraConfig {
        let text = format!(
            "[[camera]]\nid = \"{id}\"\nname = \"t\"\nurl = \"rtsp://127.0.0.1/x\"\n\
             location = {{ lat = 22.5, lon = 114.0 }}\ntier = \"police\"\n\
             health = {{ video_loss_s = 10, frozen_s = 20, covered_s = 5, dark_luma = 16 }}\n"
        );
        xueliang_core::config::Inventory::parse(&text, std::path::Path::new("c.toml"), &|_| None)
            .unwrap()
            .cameras
            .remove(0)
    }

    fn scene(seed: u8) -> LumaStats {
        let mut thumbnail = [0u8; 64];
        for (i, t) in thumbnail.iter_mut().enumerate() {
            *t = (i as u8).wrapping_mul(37).wrapping_add(seed);
        }
        LumaStats {
            mean: 110.0,
            variance: 900.0,
            thumbnail,
        }
    }

    const BLACK: LumaStats = LumaStats {
        mean: 3.0,
        variance: 1.0,
        thumbnail: [3; 64],
    };

    fn types(evs: &[RuleEvent]) -> Vec<EventType> {
        evs.iter().map(|e| e.event_type).collect()
    }

    #[test]
    fn video_loss_fires_once_per_outage_and_rearms_after_a_frame() {
        let t0 = Instant::now();
        let id = camera("c1").id;
        let mut m = HealthMonitor::new(&[camera("c1")], t0);
        let w = Utc::now();
        assert!(m.tick(t0 + Duration::from_secs(9), w).is_empty());
        let ev = m.tick(t0 + Duration::from_secs(10), w);
        assert_eq!(types(&ev), [EventType::VideoLoss]);
        assert!(
            ev[0].summary.contains("no frame for 10 s"),
            "{}",
            ev[0].summary
        );
        assert!(
            m.tick(t0 + Duration::from_secs(30), w).is_empty(),
            "one alert per outage"
        );
        m.observe(&id, &scene(1), t0 + Duration::from_secs(31), w);
        assert!(m.tick(t0 + Duration::from_secs(40), w).is_empty());
        assert_eq!(
            types(&m.tick(t0 + Duration::from_secs(41), w)),
            [EventType::VideoLoss]
        );
    }

    #[test]
    fn covered_lens_needs_the_condition_to_last() {
        let t0 = Instant::now();
        let id = camera("c1").id;
        let mut m = HealthMonitor::new(&[camera("c1")], t0);
        let w = Utc::now();
        let mut all = Vec::new();
        for s in 0..4 {
            all.extend(m.observe(&id, &BLACK, t0 + Duration::from_secs(s), w));
        }
        assert!(all.is_empty(), "4 s of black is below covered_s = 5");
        m.observe(&id, &scene(1), t0 + Duration::from_secs(4), w);
        for s in 5..20 {
            all.extend(m.observe(&id, &BLACK, t0 + Duration::from_secs(s), w));
        }
        assert_eq!(types(&all), [EventType::LensCovered]);
    }

    #[test]
    fn frozen_picture_but_not_a_live_scene() {
        let t0 = Instant::now();
        let id = camera("c1").id;
        let mut m = HealthMonitor::new(&[camera("c1")], t0);
        let w = Utc::now();
        let mut live = Vec::new();
        for s in 0..60u8 {
            live.extend(m.observe(&id, &scene(s), t0 + Duration::from_secs(s.into()), w));
        }
        assert!(live.is_empty(), "{:?}", types(&live));
        let mut frozen = Vec::new();
        for s in 60..100u64 {
            frozen.extend(m.observe(&id, &scene(7), t0 + Duration::from_secs(s), w));
        }
        assert_eq!(types(&frozen), [EventType::FrozenPicture]);
    }

    #[test]
    fn removed_cameras_are_forgotten() {
        let t0 = Instant::now();
        let mut m = HealthMonitor::new(&[camera("c1"), camera("c2")], t0);
        m.set_cameras(&[camera("c2")], t0);
        let ev = m.tick(t0 + Duration::from_secs(11), Utc::now());
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].camera_id.as_str(), "c2");
    }
}
