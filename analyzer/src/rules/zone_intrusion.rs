//! Zone intrusion (区域入侵): a track of a watched class starts a stay in the zone.
//!
//! A track first seen already inside counts as entering (nothing is known about it before), and
//! so does every track inside the zone at the moment the rule becomes armed — an armed zone is
//! meant to be empty. One alert per stay; a new stay needs the track to have left for longer
//! than the miss tolerance (see [`super::stay`]).

use super::geometry::{ClassSet, Polygon};
use super::stay::{Stay, StayStep, secs};
use super::{Ctx, Detail};
use std::collections::HashMap;

#[derive(Debug)]
pub(crate) struct ZoneIntrusion {
    pub zone: Polygon,
    pub classes: ClassSet,
    tracks: HashMap<u64, Stay>,
}

impl ZoneIntrusion {
    pub fn new(zone: Polygon, classes: ClassSet) -> Self {
        ZoneIntrusion {
            zone,
            classes,
            tracks: HashMap::new(),
        }
    }

    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    pub fn observe(&mut self, ctx: &Ctx<'_>, hits: &mut Vec<usize>) -> Option<Detail> {
        for (i, o) in ctx.objects.iter().enumerate() {
            if !self.classes.contains(o.class) {
                continue;
            }
            let inside = self.zone.contains(ctx.feet[i]);
            let stay = self
                .tracks
                .entry(o.track_id)
                .or_insert_with(|| Stay::new(ctx.now));
            if stay.observe(inside, ctx.now, ctx.tuning.miss_tolerance) == StayStep::Entered {
                stay.fired = true;
                hits.push(i);
            }
        }
        let forget = ctx.tuning.forget_after.as_secs_f64();
        self.tracks
            .retain(|_, s| secs(s.last_seen, ctx.now) <= forget);
        (!hits.is_empty()).then_some(Detail::Entered)
    }

    pub fn tracked(&self) -> usize {
        self.tracks.len()
    }
}
