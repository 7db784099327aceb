//! Rules per camera: turn tracked objects into events (zone intrusion, line crossing,
//! loitering, crowd gathering, stationary vehicle), each alerted once.
//!
//! Design decisions:
//! - **One engine per camera**, fed the tracker's output for every analysed sample, in time
//!   order. Rules come from the camera inventory ([`Rule`], already validated by the config
//!   loader); geometry is in normalised image coordinates and an object's position is the
//!   bottom-centre of its box (see [`geometry`]).
//! - **One real event, one alert.** Each kind latches per episode — per track stay for the
//!   zone rules, per crowd episode, per crossing — and the rule then has a cooldown during
//!   which nothing else it detects is alerted. An episode that completes during the cooldown is
//!   *consumed*, not deferred: it was part of the burst the first alert already reported.
//! - **Sample-rate independence.** Every duration is measured between observation timestamps,
//!   never counted in samples; the only sample-counted quantity is `miss_tolerance`, the number
//!   of consecutive contrary samples (a foot point outside, a crowd one short, a parked car's
//!   box jumping) that an episode survives, because that is about the detector missing an object
//!   in one frame, whatever the rate. A track absent from a sample (the tracker coasting it)
//!   is neither inside nor outside: its state simply waits.
//! - **Schedule.** A rule is evaluated only while [`Rule::armed_at`] the sample's local minute
//!   of day (UTC + `utc_offset_s`); disabled rules never are. Disarming drops the rule's state,
//!   so arming starts afresh: objects already inside an intrusion zone count as entering, and
//!   dwell timers start at the arming. The cooldown survives disarming.
//! - **Bounded memory.** Per-track state is forgotten once a track has not been seen for
//!   `forget_after` (longer than the tracker keeps a lost track; track ids are never reused,
//!   so forgetting late is harmless).
//! - **Hot path.** `evaluate` allocates only when a rule fires (the event, its summary); the
//!   foot points and hit lists are reused buffers.

mod crowd_gathering;
mod event;
mod geometry;
mod health;
mod line_crossing;
mod loitering;
mod stationary_vehicle;
mod stay;
mod zone_intrusion;

pub use event::RuleEvent;
pub use health::CameraFault;

use crate::types::{Observation, TrackedObject};
use chrono::{DateTime, Utc};
use crowd_gathering::CrowdGathering;
use geometry::{ClassSet, Polygon, foot_point};
use line_crossing::LineCrossing;
use loitering::Loitering;
use metrics::counter;
use stationary_vehicle::StationaryVehicle;
use stay::secs;
use std::fmt::Write as _;
use std::time::Duration;
use xueliang_core::CameraId;
use xueliang_core::config::{CrossDirection, NormPoint, Rule, RuleSpec};

/// Events emitted, by camera and event type.
pub const RULE_EVENTS: &str = "xueliang_rule_events_total";
/// Events detected but not emitted, by camera, event type and reason (`cooldown`).
pub const RULE_SUPPRESSED: &str = "xueliang_rule_suppressed_total";

/// Registers the descriptions of the rule metrics.
pub fn describe_metrics() {
    metrics::describe_counter!(
        RULE_EVENTS,
        "Rule events emitted (labels camera, event_type)."
    );
    metrics::describe_counter!(
        RULE_SUPPRESSED,
        "Rule events detected but not emitted (labels camera, event_type, reason)."
    );
}

/// Knobs shared by all rules of an engine; `Default` is what production uses.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTuning {
    /// Consecutive contrary samples an episode survives (see the module docs).
    pub miss_tolerance: u8,
    /// Distance from a line (normalised units) within which a foot point is on neither side.
    pub line_dead_band: f32,
    /// Largest displacement, relative to the vehicle's box size, that still counts as standing
    /// still.
    pub stationary_tolerance: f32,
    /// Per-track state is dropped after the track has not been seen for this long.
    pub forget_after: Duration,
}

impl Default for RuleTuning {
    fn default() -> Self {
        RuleTuning {
            miss_tolerance: 1,
            // ~4 px on a 768-pixel-wide frame: foot-point jitter of a standing person.
            line_dead_band: 0.005,
            // A parked car's box wobbles by a few per cent of its size; a car that drove off
            // moves by its own length.
            stationary_tolerance: 0.25,
            forget_after: Duration::from_secs(10),
        }
    }
}

/// What the kind-specific state sees of one observation.
pub(crate) struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub objects: &'a [TrackedObject],
    /// `feet[i]` is the position of `objects[i]`.
    pub feet: &'a [NormPoint],
    pub tuning: &'a RuleTuning,
}

/// What a rule kind found, for the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Detail {
    Entered,
    Crossed(CrossDirection),
    /// Seconds in the zone.
    Loitered(f64),
    /// Seconds standing still.
    Stationary(f64),
    Crowd {
        count: usize,
        secs: f64,
    },
}

#[derive(Debug)]
enum Kind {
    Zone(zone_intrusion::ZoneIntrusion),
    Line(LineCrossing),
    Loiter(Loitering),
    Crowd(CrowdGathering),
    Parked(StationaryVehicle),
}

impl Kind {
    fn observe(&mut self, ctx: &Ctx<'_>, hits: &mut Vec<usize>) -> Option<Detail> {
        match self {
            Kind::Zone(k) => k.observe(ctx, hits),
            Kind::Line(k) => k.observe(ctx, hits),
            Kind::Loiter(k) => k.observe(ctx, hits),
            Kind::Crowd(k) => k.observe(ctx, hits),
            Kind::Parked(k) => k.observe(ctx, hits),
        }
    }

    fn reset(&mut self) {
        match self {
            Kind::Zone(k) => k.reset(),
            Kind::Line(k) => k.reset(),
            Kind::Loiter(k) => k.reset(),
            Kind::Crowd(k) => k.reset(),
            Kind::Parked(k) => k.reset(),
        }
    }

    fn tracked(&self) -> usize {
        match self {
            Kind::Zone(k) => k.tracked(),
            Kind::Line(k) => k.tracked(),
            Kind::Loiter(k) => k.tracked(),
            Kind::Crowd(_) => 0,
            Kind::Parked(k) => k.tracked(),
        }
    }
}

#[derive(Debug)]
struct RuleState {
    rule: Rule,
    kind: Kind,
    armed: bool,
    last_fired: Option<DateTime<Utc>>,
}

/// Evaluates one camera's rules on that camera's tracked objects.
#[derive(Debug)]
pub struct RuleEngine {
    camera_id: CameraId,
    utc_offset_s: i32,
    tuning: RuleTuning,
    rules: Vec<RuleState>,
    feet: Vec<NormPoint>,
    hits: Vec<usize>,
}

impl RuleEngine {
    /// `utc_offset_s` is the offset of the camera's local time from UTC, for rule schedules
    /// (28800 for China Standard Time).
    pub fn new(camera_id: CameraId, rules: Vec<Rule>, utc_offset_s: i32) -> RuleEngine {
        RuleEngine::with_tuning(camera_id, rules, utc_offset_s, RuleTuning::default())
    }

    pub fn with_tuning(
        camera_id: CameraId,
        rules: Vec<Rule>,
        utc_offset_s: i32,
        tuning: RuleTuning,
    ) -> RuleEngine {
        let rules = rules
            .into_iter()
            .map(|rule| {
                let mut unknown = Vec::new();
                let kind = match &rule.spec {
                    RuleSpec::ZoneIntrusion { zone, classes } => {
                        Kind::Zone(zone_intrusion::ZoneIntrusion::new(
                            Polygon::new(zone),
                            ClassSet::from_names(classes, &mut unknown),
                        ))
                    }
                    RuleSpec::LineCrossing {
                        line,
                        direction,
                        classes,
                    } => Kind::Line(LineCrossing::new(
                        *line,
                        *direction,
                        ClassSet::from_names(classes, &mut unknown),
                    )),
                    RuleSpec::Loitering { zone, dwell } => {
                        Kind::Loiter(Loitering::new(Polygon::new(zone), *dwell))
                    }
                    RuleSpec::CrowdGathering {
                        zone,
                        min_persons,
                        duration,
                    } => Kind::Crowd(CrowdGathering::new(
                        Polygon::new(zone),
                        *min_persons,
                        *duration,
                    )),
                    RuleSpec::StationaryVehicle {
                        zone,
                        duration,
                        classes,
                    } => Kind::Parked(StationaryVehicle::new(
                        Polygon::new(zone),
                        ClassSet::from_names(classes, &mut unknown),
                        *duration,
                    )),
                };
                if !unknown.is_empty() {
                    tracing::warn!(camera = %camera_id, rule = %rule.id, classes = ?unknown,
                        "rule names classes the detector does not know; they will never match");
                }
                RuleState {
                    rule,
                    kind,
                    armed: false,
                    last_fired: None,
                }
            })
            .collect();
        RuleEngine {
            camera_id,
            utc_offset_s,
            tuning,
            rules,
            feet: Vec::new(),
            hits: Vec::new(),
        }
    }

    pub fn camera_id(&self) -> &CameraId {
        &self.camera_id
    }

    /// Per-track entries held across all rules (bounded by the tracks seen within
    /// `forget_after`); for metrics and tests.
    pub fn tracked_entries(&self) -> usize {
        self.rules.iter().map(|r| r.kind.tracked()).sum()
    }

    /// Evaluates every rule on one observation. Observations must come in time order; the
    /// returned events are in rule order.
    pub fn evaluate(&mut self, obs: &Observation) -> Vec<RuleEvent> {
        let mut events = Vec::new();
        let RuleEngine {
            camera_id,
            utc_offset_s,
            tuning,
            rules,
            feet,
            hits,
        } = self;
        feet.clear();
        feet.extend(
            obs.objects
                .iter()
                .map(|o| foot_point(&o.bbox, obs.frame_size)),
        );
        let minute = local_minute_of_day(obs.at, *utc_offset_s);
        let ctx = Ctx {
            now: obs.at,
            objects: &obs.objects,
            feet,
            tuning,
        };
        for rs in rules.iter_mut() {
            if !rs.rule.armed_at(minute) {
                if rs.armed {
                    rs.kind.reset();
                    rs.armed = false;
                }
                continue;
            }
            rs.armed = true;
            hits.clear();
            let Some(detail) = rs.kind.observe(&ctx, hits) else {
                continue;
            };
            let event_type = rs.rule.spec.event_type();
            if let Some(last) = rs.last_fired
                && secs(last, obs.at) < rs.rule.cooldown.as_secs_f64()
            {
                tracing::debug!(camera = %camera_id, rule = %rs.rule.id, "rule event suppressed by cooldown");
                counter!(RULE_SUPPRESSED, "camera" => camera_id.to_string(),
                    "event_type" => event_type.as_str(), "reason" => "cooldown")
                .increment(1);
                continue;
            }
            rs.last_fired = Some(obs.at);
            let objects: Vec<TrackedObject> = hits.iter().map(|&i| obs.objects[i]).collect();
            let summary = summarize(&rs.rule.id, detail, &objects);
            tracing::debug!(camera = %camera_id, rule = %rs.rule.id, %summary, "rule fired");
            counter!(RULE_EVENTS, "camera" => camera_id.to_string(), "event_type" => event_type.as_str())
                .increment(1);
            events.push(RuleEvent {
                camera_id: camera_id.clone(),
                rule_id: rs.rule.id.clone(),
                event_type,
                severity: rs.rule.severity,
                at: obs.at,
                frame_size: Some(obs.frame_size),
                objects,
                zone_id: Some(rs.rule.id.clone()),
                summary,
            });
        }
        events
    }
}

/// Minutes since local midnight of `at`, for [`Rule::armed_at`].
pub fn local_minute_of_day(at: DateTime<Utc>, utc_offset_s: i32) -> u16 {
    ((at.timestamp() + i64::from(utc_offset_s)).rem_euclid(86_400) / 60) as u16
}

fn class_name(class: u16) -> &'static str {
    xueliang_core::labels::COCO80
        .get(usize::from(class))
        .copied()
        .unwrap_or("object")
}

/// "person #3, car #7".
fn list_objects(objects: &[TrackedObject]) -> String {
    let mut s = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{} #{}", class_name(o.class), o.track_id);
    }
    s
}

fn summarize(rule_id: &str, detail: Detail, objects: &[TrackedObject]) -> String {
    let who = list_objects(objects);
    match detail {
        Detail::Entered => format!("{who} entered zone {rule_id} (区域入侵)"),
        Detail::Crossed(dir) => {
            let dir = match dir {
                CrossDirection::LeftToRight => "left_to_right",
                CrossDirection::RightToLeft => "right_to_left",
                CrossDirection::Any => "any",
            };
            format!("{who} crossed line {rule_id} {dir} (越线)")
        }
        Detail::Loitered(s) => format!("{who} stayed {s:.0} s in zone {rule_id} (徘徊)"),
        Detail::Stationary(s) => format!("{who} stationary {s:.0} s in zone {rule_id} (违停)"),
        Detail::Crowd { count, secs } => {
            format!("{count} persons in zone {rule_id} for {secs:.0} s (人员聚集)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_of_day_applies_the_offset() {
        let at = DateTime::parse_from_rfc3339("2025-01-01T15:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(local_minute_of_day(at, 0), 15 * 60 + 30);
        assert_eq!(local_minute_of_day(at, 8 * 3600), 23 * 60 + 30);
        assert_eq!(local_minute_of_day(at, -16 * 3600), 23 * 60 + 30);
    }

    #[test]
    fn summaries_name_the_objects() {
        let o = |id, class| TrackedObject {
            track_id: id,
            class,
            score: 0.8,
            bbox: [0.0; 4],
        };
        assert_eq!(
            summarize("gate", Detail::Entered, &[o(3, 0), o(7, 2)]),
            "person #3, car #7 entered zone gate (区域入侵)"
        );
        assert_eq!(
            summarize(
                "plaza",
                Detail::Crowd {
                    count: 3,
                    secs: 42.4
                },
                &[]
            ),
            "3 persons in zone plaza for 42 s (人员聚集)"
        );
        assert_eq!(
            summarize("bay", Detail::Stationary(125.0), &[o(4, 7)]),
            "truck #4 stationary 125 s in zone bay (违停)"
        );
    }
}
