use super::error::Errors;
use crate::contract::{EventType, Severity};
use crate::labels;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A rule as written in the camera inventory (`[[camera.rule]]`). Which keys apply depends on
/// `kind`; keys that do not apply are rejected rather than silently ignored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleRaw {
    /// Unique within the camera; appears in alerts as `rule_id`.
    id: String,
    /// zone_intrusion | line_crossing | loitering | crowd_gathering | stationary_vehicle
    kind: String,
    /// Polygon in normalised image coordinates: [[x, y], …], 0 ≤ x, y ≤ 1, at least 3 points.
    zone: Option<Vec<[f64; 2]>>,
    /// Two points [[x1, y1], [x2, y2]] in normalised image coordinates.
    line: Option<Vec<[f64; 2]>>,
    /// For line_crossing: "left_to_right", "right_to_left" or "any". Sides are those of an
    /// observer standing on the picture at the first point facing the second (image y points
    /// down): for a line drawn left to right, "left_to_right" means moving down the picture.
    direction: Option<String>,
    /// COCO class names the rule watches.
    classes: Option<Vec<String>>,
    /// loitering: how long a person must stay.
    dwell_s: Option<f64>,
    /// crowd_gathering: how many persons.
    min_persons: Option<u32>,
    /// crowd_gathering / stationary_vehicle: how long the condition must hold.
    duration_s: Option<f64>,
    /// After firing, the rule stays quiet this long (per camera and rule).
    cooldown_s: Option<f64>,
    severity: Option<Severity>,
    /// Armed windows in local time, e.g. ["22:00-06:00"]; empty or absent = always armed.
    schedule: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// A point in normalised image coordinates (0..1 across the frame).
pub type NormPoint = [f32; 2];

/// Which way across a line counts, looking from the line's first point to its second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossDirection {
    LeftToRight,
    RightToLeft,
    Any,
}

/// What a rule watches for; each variant carries only the keys that apply to it.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSpec {
    ZoneIntrusion {
        zone: Vec<NormPoint>,
        classes: Vec<String>,
    },
    LineCrossing {
        line: [NormPoint; 2],
        direction: CrossDirection,
        classes: Vec<String>,
    },
    Loitering {
        zone: Vec<NormPoint>,
        dwell: Duration,
    },
    CrowdGathering {
        zone: Vec<NormPoint>,
        min_persons: u32,
        duration: Duration,
    },
    StationaryVehicle {
        zone: Vec<NormPoint>,
        duration: Duration,
        classes: Vec<String>,
    },
}

impl RuleSpec {
    pub fn event_type(&self) -> EventType {
        match self {
            RuleSpec::ZoneIntrusion { .. } => EventType::ZoneIntrusion,
            RuleSpec::LineCrossing { .. } => EventType::LineCrossing,
            RuleSpec::Loitering { .. } => EventType::Loitering,
            RuleSpec::CrowdGathering { .. } => EventType::CrowdGathering,
            RuleSpec::StationaryVehicle { .. } => EventType::StationaryVehicle,
        }
    }
}

/// A daily armed window in local minutes since midnight; `start > end` wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmedWindow {
    pub start_min: u16,
    pub end_min: u16,
}

impl ArmedWindow {
    pub fn contains(&self, minute_of_day: u16) -> bool {
        if self.start_min <= self.end_min {
            (self.start_min..self.end_min).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start_min || minute_of_day < self.end_min
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub spec: RuleSpec,
    pub cooldown: Duration,
    pub severity: Severity,
    /// Empty: always armed.
    pub schedule: Vec<ArmedWindow>,
    pub enabled: bool,
}

impl Rule {
    /// Whether the rule is armed at `minute_of_day` local time.
    pub fn armed_at(&self, minute_of_day: u16) -> bool {
        self.enabled
            && (self.schedule.is_empty() || self.schedule.iter().any(|w| w.contains(minute_of_day)))
    }
}

const KINDS: &str =
    "zone_intrusion, line_crossing, loitering, crowd_gathering or stationary_vehicle";

impl RuleRaw {
    /// Validates into a [`Rule`]; problems are pushed onto `e` under `key` (e.g. `camera[0].rule[1]`).
    pub(crate) fn validate(self, key: &str, e: &mut Errors<'_>) -> Option<Rule> {
        let before = e.list.len();
        if self.id.trim().is_empty() {
            e.push(
                format!("{key}.id"),
                "is empty",
                "give the rule an id, e.g. \"gate-intrusion\"",
            );
        }
        // Which optional keys each kind accepts; anything else set is an error.
        let allowed: &[&str] = match self.kind.as_str() {
            "zone_intrusion" => &["zone", "classes"],
            "line_crossing" => &["line", "direction", "classes"],
            "loitering" => &["zone", "dwell_s"],
            "crowd_gathering" => &["zone", "min_persons", "duration_s"],
            "stationary_vehicle" => &["zone", "duration_s", "classes"],
            other => {
                e.push(
                    format!("{key}.kind"),
                    format!("unknown rule kind {other:?}"),
                    &format!("use one of {KINDS}"),
                );
                return None;
            }
        };
        let set = [
            ("zone", self.zone.is_some()),
            ("line", self.line.is_some()),
            ("direction", self.direction.is_some()),
            ("classes", self.classes.is_some()),
            ("dwell_s", self.dwell_s.is_some()),
            ("min_persons", self.min_persons.is_some()),
            ("duration_s", self.duration_s.is_some()),
        ];
        for (name, present) in set {
            if present && !allowed.contains(&name) {
                e.push(
                    format!("{key}.{name}"),
                    format!("does not apply to a {} rule", self.kind),
                    &format!(
                        "remove it; a {} rule takes {}",
                        self.kind,
                        allowed.join(", ")
                    ),
                );
            }
        }

        let zone = |e: &mut Errors<'_>| -> Vec<NormPoint> {
            let Some(z) = &self.zone else {
                e.push(
                    format!("{key}.zone"),
                    format!("is required for a {} rule", self.kind),
                    "e.g. zone = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]",
                );
                return Vec::new();
            };
            if z.len() < 3 {
                e.push(
                    format!("{key}.zone"),
                    format!("has {} points; a polygon needs at least 3", z.len()),
                    "",
                );
            }
            norm_points(z, &format!("{key}.zone"), e)
        };
        let classes = |e: &mut Errors<'_>, default: &[&str]| -> Vec<String> {
            let list: Vec<String> = match &self.classes {
                Some(c) => c.clone(),
                None => default.iter().map(|s| s.to_string()).collect(),
            };
            if list.is_empty() {
                e.push(
                    format!("{key}.classes"),
                    "is empty",
                    "list at least one class, e.g. [\"person\"]",
                );
            }
            for (i, c) in list.iter().enumerate() {
                if labels::class_index(c).is_none() {
                    e.push(
                        format!("{key}.classes[{i}]"),
                        format!("{c:?} is not a class the detector knows"),
                        "use COCO names such as \"person\", \"car\", \"truck\", \"bus\", \"bicycle\", \"motorcycle\"",
                    );
                }
            }
            list
        };
        let secs = |e: &mut Errors<'_>, name: &str, v: Option<f64>, default: Option<f64>| match v
            .or(default)
        {
            Some(s) if (0.0..=86_400.0).contains(&s) => Duration::from_secs_f64(s),
            Some(s) => {
                e.push(
                    format!("{key}.{name}"),
                    format!("{s} is out of range"),
                    "use seconds in 0..=86400",
                );
                Duration::ZERO
            }
            None => {
                e.push(
                    format!("{key}.{name}"),
                    format!("is required for a {} rule", self.kind),
                    &format!("e.g. {name} = 30"),
                );
                Duration::ZERO
            }
        };

        let spec = match self.kind.as_str() {
            "zone_intrusion" => RuleSpec::ZoneIntrusion {
                zone: zone(e),
                classes: classes(e, &["person"]),
            },
            "line_crossing" => {
                let line = match &self.line {
                    Some(l) if l.len() == 2 => {
                        let p = norm_points(l, &format!("{key}.line"), e);
                        if p.len() == 2 && p[0] == p[1] {
                            e.push(
                                format!("{key}.line"),
                                "both points are the same",
                                "a line needs two distinct points",
                            );
                        }
                        [
                            p.first().copied().unwrap_or_default(),
                            p.get(1).copied().unwrap_or_default(),
                        ]
                    }
                    Some(l) => {
                        e.push(
                            format!("{key}.line"),
                            format!("has {} points; a line has exactly 2", l.len()),
                            "",
                        );
                        [[0.0; 2]; 2]
                    }
                    None => {
                        e.push(
                            format!("{key}.line"),
                            "is required for a line_crossing rule",
                            "e.g. line = [[0.0, 0.6], [1.0, 0.6]]",
                        );
                        [[0.0; 2]; 2]
                    }
                };
                let direction = match self.direction.as_deref().unwrap_or("any") {
                    "left_to_right" => CrossDirection::LeftToRight,
                    "right_to_left" => CrossDirection::RightToLeft,
                    "any" => CrossDirection::Any,
                    other => {
                        e.push(
                            format!("{key}.direction"),
                            format!("unknown direction {other:?}"),
                            "use \"left_to_right\", \"right_to_left\" or \"any\"",
                        );
                        CrossDirection::Any
                    }
                };
                RuleSpec::LineCrossing {
                    line,
                    direction,
                    classes: classes(e, &["person"]),
                }
            }
            "loitering" => RuleSpec::Loitering {
                zone: zone(e),
                dwell: secs(e, "dwell_s", self.dwell_s, None),
            },
            "crowd_gathering" => {
                let min_persons = self.min_persons.unwrap_or(5);
                if min_persons < 2 {
                    e.push(
                        format!("{key}.min_persons"),
                        format!("{min_persons} is not a crowd"),
                        "use 2 or more",
                    );
                }
                RuleSpec::CrowdGathering {
                    zone: zone(e),
                    min_persons,
                    duration: secs(e, "duration_s", self.duration_s, Some(30.0)),
                }
            }
            _ => RuleSpec::StationaryVehicle {
                zone: zone(e),
                duration: secs(e, "duration_s", self.duration_s, Some(120.0)),
                classes: classes(e, &labels::VEHICLES),
            },
        };
        let cooldown = secs(e, "cooldown_s", self.cooldown_s, Some(60.0));
        let mut schedule = Vec::new();
        for (i, w) in self.schedule.iter().flatten().enumerate() {
            match parse_window(w) {
                Some(win) => schedule.push(win),
                None => e.push(
                    format!("{key}.schedule[{i}]"),
                    format!("{w:?} is not a time window"),
                    "write windows as \"HH:MM-HH:MM\" in local time, e.g. \"22:00-06:00\"",
                ),
            }
        }
        let severity = self.severity.unwrap_or(match spec.event_type() {
            EventType::CrowdGathering | EventType::ZoneIntrusion => Severity::Major,
            _ => Severity::Minor,
        });
        (e.list.len() == before).then_some(Rule {
            id: self.id,
            spec,
            cooldown,
            severity,
            schedule,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

fn norm_points(points: &[[f64; 2]], key: &str, e: &mut Errors<'_>) -> Vec<NormPoint> {
    for (i, [x, y]) in points.iter().enumerate() {
        if !((0.0..=1.0).contains(x) && (0.0..=1.0).contains(y)) {
            e.push(
                format!("{key}[{i}]"),
                format!("[{x}, {y}] is outside the frame"),
                "use normalised image coordinates: 0 ≤ x, y ≤ 1, (0, 0) top-left",
            );
        }
    }
    points.iter().map(|[x, y]| [*x as f32, *y as f32]).collect()
}

/// "22:00-06:00" → window.
pub fn parse_window(s: &str) -> Option<ArmedWindow> {
    let (a, b) = s.trim().split_once('-')?;
    let hm = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    let (start_min, end_min) = (hm(a)?, hm(b)?);
    (start_min != end_min).then_some(ArmedWindow { start_min, end_min })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_wrap_past_midnight() {
        let w = parse_window("22:00-06:00").unwrap();
        assert!(w.contains(23 * 60));
        assert!(w.contains(5 * 60 + 59));
        assert!(!w.contains(6 * 60));
        assert!(!w.contains(12 * 60));
        let day = parse_window("08:30-17:00").unwrap();
        assert!(day.contains(8 * 60 + 30) && !day.contains(17 * 60));
        assert!(parse_window("25:00-01:00").is_none());
        assert!(parse_window("08:00").is_none());
    }
}
