//! Stationary vehicle in a no-parking zone (违停): a vehicle track in the zone that has not
//! moved for at least `duration`.
//!
//! "Not moved" is measured against an anchor — the box where the vehicle was when the timer
//! started — not against the previous sample, so a vehicle creeping forward a little per sample
//! still accumulates displacement and restarts the timer. Displacement is relative to the
//! anchor box size (`max(|Δcx|/w, |Δcy|/h)`), so one tolerance fits near and far vehicles.
//! Re-anchoring needs `miss_tolerance + 1` consecutive moved samples, so one bad box (a
//! pedestrian occluding half the car) does not restart the timer, and the rule never fires on
//! a sample that looked moved. One alert per stay in the zone.

use super::geometry::{ClassSet, Polygon};
use super::stay::{Stay, StayStep, secs};
use super::{Ctx, Detail};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Parked {
    stay: Stay,
    anchor: [f32; 4],
    anchor_at: DateTime<Utc>,
    moved_streak: u8,
}

#[derive(Debug)]
pub(crate) struct StationaryVehicle {
    pub zone: Polygon,
    pub classes: ClassSet,
    duration: f64,
    tracks: HashMap<u64, Parked>,
}

fn displacement(anchor: &[f32; 4], b: &[f32; 4]) -> f32 {
    let (w, h) = (
        (anchor[2] - anchor[0]).max(1.0),
        (anchor[3] - anchor[1]).max(1.0),
    );
    let dx = ((b[0] + b[2]) - (anchor[0] + anchor[2])).abs() * 0.5;
    let dy = ((b[1] + b[3]) - (anchor[1] + anchor[3])).abs() * 0.5;
    (dx / w).max(dy / h)
}

impl StationaryVehicle {
    pub fn new(zone: Polygon, classes: ClassSet, duration: Duration) -> Self {
        StationaryVehicle {
            zone,
            classes,
            duration: duration.as_secs_f64(),
            tracks: HashMap::new(),
        }
    }

    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    pub fn observe(&mut self, ctx: &Ctx<'_>, hits: &mut Vec<usize>) -> Option<Detail> {
        let mut longest = 0.0f64;
        let tol = ctx.tuning.miss_tolerance;
        for (i, o) in ctx.objects.iter().enumerate() {
            if !self.classes.contains(o.class) {
                continue;
            }
            let inside = self.zone.contains(ctx.feet[i]);
            let p = self.tracks.entry(o.track_id).or_insert_with(|| Parked {
                stay: Stay::new(ctx.now),
                anchor: o.bbox,
                anchor_at: ctx.now,
                moved_streak: 0,
            });
            match p.stay.observe(inside, ctx.now, tol) {
                StayStep::Entered => {
                    p.anchor = o.bbox;
                    p.anchor_at = ctx.now;
                    p.moved_streak = 0;
                }
                StayStep::Inside
                    if displacement(&p.anchor, &o.bbox) > ctx.tuning.stationary_tolerance =>
                {
                    p.moved_streak = p.moved_streak.saturating_add(1);
                    if p.moved_streak > tol {
                        p.anchor = o.bbox;
                        p.anchor_at = ctx.now;
                        p.moved_streak = 0;
                    }
                }
                StayStep::Inside => p.moved_streak = 0,
                StayStep::Outside => {}
            }
            let still = secs(p.anchor_at, ctx.now);
            if inside && p.moved_streak == 0 && !p.stay.fired && still >= self.duration {
                p.stay.fired = true;
                longest = longest.max(still);
                hits.push(i);
            }
        }
        let forget = ctx.tuning.forget_after.as_secs_f64();
        self.tracks
            .retain(|_, p| secs(p.stay.last_seen, ctx.now) <= forget);
        (!hits.is_empty()).then_some(Detail::Stationary(longest))
    }

    pub fn tracked(&self) -> usize {
        self.tracks.len()
    }
}
