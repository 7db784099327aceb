//! Line crossing (越线): a track's foot point moves from one side of the directed line A→B to
//! the other, through the segment A–B itself (passing beyond either end does not count).
//!
//! Direction, precisely: "right of A→B" is the side on your right hand when you stand on the
//! displayed picture at A and face B (in image coordinates, y down, the sign of
//! `(B − A) × (P − A)` is positive). `left_to_right` fires when a track goes from the left side
//! to the right side, `right_to_left` the other way, `any` both. Example: for a line drawn
//! from (0, 0.6) to (1, 0.6), left to right across the picture, `left_to_right` means walking
//! down the picture (towards the camera, on a typical elevated view).
//!
//! Low sample rates: the test uses the segment from the last position on a definite side to the
//! current one, so it does not matter how far apart the samples are, nor whether the track was
//! missed for a few samples in between. Positions within `line_dead_band` of the line count as
//! on neither side, so a person standing on the line whose foot point jitters across it does
//! not fire back and forth. A track needs one sample on a definite side before a crossing can
//! count (a track first confirmed after it crossed is not reported).

use super::geometry::{ClassSet, Line};
use super::stay::secs;
use super::{Ctx, Detail};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use xueliang_core::config::{CrossDirection, NormPoint};

#[derive(Debug, Clone, Copy)]
struct Side {
    /// The last position on a definite side, and that side (−1 left, +1 right, 0 not yet known).
    point: NormPoint,
    side: i8,
    last_seen: DateTime<Utc>,
}

#[derive(Debug)]
pub(crate) struct LineCrossing {
    line: Line,
    direction: CrossDirection,
    pub classes: ClassSet,
    tracks: HashMap<u64, Side>,
}

impl LineCrossing {
    pub fn new(line: [NormPoint; 2], direction: CrossDirection, classes: ClassSet) -> Self {
        LineCrossing {
            line: Line::new(line),
            direction,
            classes,
            tracks: HashMap::new(),
        }
    }

    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    pub fn observe(&mut self, ctx: &Ctx<'_>, hits: &mut Vec<usize>) -> Option<Detail> {
        let band = ctx.tuning.line_dead_band;
        let mut first_dir = None;
        for (i, o) in ctx.objects.iter().enumerate() {
            if !self.classes.contains(o.class) {
                continue;
            }
            let p = ctx.feet[i];
            let d = self.line.side(p);
            let side: i8 = if d > band {
                1
            } else if d < -band {
                -1
            } else {
                0
            };
            let st = self.tracks.entry(o.track_id).or_insert(Side {
                point: p,
                side,
                last_seen: ctx.now,
            });
            st.last_seen = ctx.now;
            if side == 0 {
                continue;
            }
            if st.side != 0 && st.side != side && self.line.segment_hit(st.point, p) {
                let dir = if st.side < 0 {
                    CrossDirection::LeftToRight
                } else {
                    CrossDirection::RightToLeft
                };
                if self.direction == CrossDirection::Any || self.direction == dir {
                    first_dir.get_or_insert(dir);
                    hits.push(i);
                }
            }
            st.point = p;
            st.side = side;
        }
        let forget = ctx.tuning.forget_after.as_secs_f64();
        self.tracks
            .retain(|_, s| secs(s.last_seen, ctx.now) <= forget);
        first_dir.map(Detail::Crossed)
    }

    pub fn tracked(&self) -> usize {
        self.tracks.len()
    }
}
