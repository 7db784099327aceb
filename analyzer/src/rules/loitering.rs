//! Loitering (徘徊): a person track stays in the zone for at least `dwell`.
//!
//! The dwell runs from the first sample inside (the person may have entered up to one sample
//! period earlier, so the rule errs on the late side), through absences and a tolerated single
//! sample outside, and the rule fires at the first sample inside the zone at which it reaches
//! `dwell` — once per stay.

use super::geometry::{ClassSet, Polygon};
use super::stay::{Stay, secs};
use super::{Ctx, Detail};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Loitering {
    pub zone: Polygon,
    dwell: f64,
    tracks: HashMap<u64, Stay>,
}

impl Loitering {
    pub fn new(zone: Polygon, dwell: Duration) -> Self {
        Loitering {
            zone,
            dwell: dwell.as_secs_f64(),
            tracks: HashMap::new(),
        }
    }

    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    pub fn observe(&mut self, ctx: &Ctx<'_>, hits: &mut Vec<usize>) -> Option<Detail> {
        let mut longest = 0.0f64;
        for (i, o) in ctx.objects.iter().enumerate() {
            if !ClassSet::PERSON.contains(o.class) {
                continue;
            }
            let inside = self.zone.contains(ctx.feet[i]);
            let stay = self
                .tracks
                .entry(o.track_id)
                .or_insert_with(|| Stay::new(ctx.now));
            stay.observe(inside, ctx.now, ctx.tuning.miss_tolerance);
            let dwelt = secs(stay.entered, ctx.now);
            if inside && !stay.fired && dwelt >= self.dwell {
                stay.fired = true;
                longest = longest.max(dwelt);
                hits.push(i);
            }
        }
        let forget = ctx.tuning.forget_after.as_secs_f64();
        self.tracks
            .retain(|_, s| secs(s.last_seen, ctx.now) <= forget);
        (!hits.is_empty()).then_some(Detail::Loitered(longest))
    }

    pub fn tracked(&self) -> usize {
        self.tracks.len()
    }
}
