//! Crowd gathering (人员聚集): at least `min_persons` person tracks in the zone continuously for
//! at least `duration`.
//!
//! The count is taken per sample. An episode starts at the first sample with enough persons
//! and survives `miss_tolerance` consecutive samples with too few (a person missed by the
//! detector, or hidden behind another); the rule fires once per episode, with the persons in
//! the zone at that sample.

use super::geometry::{ClassSet, Polygon};
use super::stay::secs;
use super::{Ctx, Detail};
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct CrowdGathering {
    pub zone: Polygon,
    min_persons: usize,
    duration: f64,
    started: Option<DateTime<Utc>>,
    below_streak: u8,
    fired: bool,
}

impl CrowdGathering {
    pub fn new(zone: Polygon, min_persons: u32, duration: Duration) -> Self {
        CrowdGathering {
            zone,
            min_persons: min_persons.max(1) as usize,
            duration: duration.as_secs_f64(),
            started: None,
            below_streak: 0,
            fired: false,
        }
    }

    pub fn reset(&mut self) {
        self.started = None;
        self.below_streak = 0;
        self.fired = false;
    }

    pub fn observe(&mut self, ctx: &Ctx<'_>, hits: &mut Vec<usize>) -> Option<Detail> {
        for (i, o) in ctx.objects.iter().enumerate() {
            if ClassSet::PERSON.contains(o.class) && self.zone.contains(ctx.feet[i]) {
                hits.push(i);
            }
        }
        let count = hits.len();
        if count >= self.min_persons {
            self.below_streak = 0;
            let started = *self.started.get_or_insert_with(|| {
                self.fired = false;
                ctx.now
            });
            let held = secs(started, ctx.now);
            if !self.fired && held >= self.duration {
                self.fired = true;
                return Some(Detail::Crowd { count, secs: held });
            }
        } else if self.started.is_some() {
            self.below_streak = self.below_streak.saturating_add(1);
            if self.below_streak > ctx.tuning.miss_tolerance {
                self.started = None;
            }
        }
        hits.clear();
        None
    }
}
