//! A track's stay in a zone, shared by the zone-based rules.
//!
//! A stay starts at the first sample that puts the track's foot point inside the zone, and ends
//! only after `miss_tolerance + 1` consecutive samples put it outside: a foot point that wobbles
//! across the edge for one sample (detector jitter, a box cut short by an occluder) neither
//! re-triggers an intrusion nor resets a dwell timer. A sample in which the track is absent says
//! nothing either way and changes nothing.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stay {
    /// When the current stay started (meaningful while `active`).
    pub entered: DateTime<Utc>,
    /// The last sample the track was seen in, inside or out (for forgetting).
    pub last_seen: DateTime<Utc>,
    pub active: bool,
    /// Whether the rule already fired (or was suppressed) for this stay.
    pub fired: bool,
    outside_streak: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StayStep {
    /// This sample started a stay.
    Entered,
    /// Inside, continuing a stay.
    Inside,
    /// Outside (the stay, if any, may continue through a tolerated miss).
    Outside,
}

impl Stay {
    pub fn new(now: DateTime<Utc>) -> Stay {
        Stay {
            entered: now,
            last_seen: now,
            active: false,
            fired: false,
            outside_streak: 0,
        }
    }

    pub fn observe(&mut self, inside: bool, now: DateTime<Utc>, miss_tolerance: u8) -> StayStep {
        self.last_seen = now;
        if inside {
            self.outside_streak = 0;
            if self.active {
                return StayStep::Inside;
            }
            self.active = true;
            self.fired = false;
            self.entered = now;
            StayStep::Entered
        } else {
            if self.active {
                self.outside_streak = self.outside_streak.saturating_add(1);
                if self.outside_streak > miss_tolerance {
                    self.active = false;
                }
            }
            StayStep::Outside
        }
    }
}

/// Seconds from `from` to `to`, never negative (observations may arrive slightly out of order
/// after a clock step).
pub(crate) fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let d = to - from;
    match d.num_microseconds() {
        Some(us) => (us as f64 / 1e6).max(0.0),
        None => {
            if d > chrono::TimeDelta::zero() {
                f64::MAX
            } else {
                0.0
            }
        }
    }
}
