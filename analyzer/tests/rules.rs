//! Scripted track sequences through the rule engine: each rule kind fires exactly once on its
//! event, never on the near miss, and obeys cooldown, schedule and `enabled`.
//!
//! Frames are 1000 × 1000 pixels so that a foot point at pixel (x, y) is at (x/1000, y/1000) in
//! normalised coordinates. The clock starts at 04:00 UTC = 12:00 China Standard Time.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;
use xueliang_analyzer::rules::{RuleEngine, RuleEvent, RuleTuning};
use xueliang_analyzer::types::{Observation, TrackedObject};
use xueliang_core::CameraId;
use xueliang_core::config::{CrossDirection, NormPoint, Rule, RuleSpec, parse_window};
use xueliang_core::contract::{EventType, Severity};

const CST: i32 = 8 * 3600;
const FRAME: [u32; 2] = [1000, 1000];
/// The zone used by the zone rules: a square in the middle of the picture.
const SQUARE: [NormPoint; 4] = [[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.6]];

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T04:00:00Z")
        .unwrap()
        .to_utc()
}

fn at(s: f64) -> DateTime<Utc> {
    t0() + TimeDelta::microseconds((s * 1e6) as i64)
}

/// A person whose feet are at normalised (fx, fy): a 40 × 100 px box.
fn person(id: u64, fx: f32, fy: f32) -> TrackedObject {
    let (x, y) = (fx * 1000.0, fy * 1000.0);
    TrackedObject {
        track_id: id,
        class: 0,
        score: 0.8,
        bbox: [x - 20.0, y - 100.0, x + 20.0, y],
    }
}

/// A car whose wheels are at (fx, fy): a 120 × 80 px box.
fn car(id: u64, fx: f32, fy: f32) -> TrackedObject {
    let (x, y) = (fx * 1000.0, fy * 1000.0);
    TrackedObject {
        track_id: id,
        class: 2,
        score: 0.6,
        bbox: [x - 60.0, y - 80.0, x + 60.0, y],
    }
}

fn obs(s: f64, objects: Vec<TrackedObject>) -> Observation {
    Observation {
        at: at(s),
        frame_size: FRAME,
        objects,
    }
}

fn rule(id: &str, spec: RuleSpec) -> Rule {
    Rule {
        id: id.to_string(),
        spec,
        cooldown: Duration::from_secs(60),
        severity: Severity::Major,
        schedule: Vec::new(),
        enabled: true,
    }
}

fn engine(rules: Vec<Rule>) -> RuleEngine {
    RuleEngine::new(CameraId::new("cam-test").unwrap(), rules, CST)
}

fn run(engine: &mut RuleEngine, seq: impl IntoIterator<Item = Observation>) -> Vec<RuleEvent> {
    seq.into_iter().flat_map(|o| engine.evaluate(&o)).collect()
}

fn intrusion(classes: &[&str]) -> Rule {
    rule(
        "square",
        RuleSpec::ZoneIntrusion {
            zone: SQUARE.to_vec(),
            classes: classes.iter().map(|s| s.to_string()).collect(),
        },
    )
}

/// One person (track `id`) walking along y = `fy` from x = 0.1 to 0.9, one sample per second,
/// 0.05 per sample, starting at `start` seconds.
fn walk_across(id: u64, fy: f32, start: f64) -> impl Iterator<Item = Observation> {
    (0..=16).map(move |i| {
        obs(
            start + i as f64,
            vec![person(id, 0.1 + 0.05 * i as f32, fy)],
        )
    })
}

// ---- zone intrusion ------------------------------------------------------------------------

#[test]
fn zone_intrusion_fires_once_when_a_person_walks_through() {
    let mut e = engine(vec![intrusion(&["person"])]);
    let events = run(&mut e, walk_across(7, 0.5, 0.0));
    assert_eq!(events.len(), 1, "{events:#?}");
    let ev = &events[0];
    assert_eq!(ev.event_type, EventType::ZoneIntrusion);
    assert_eq!(ev.rule_id, "square");
    assert_eq!(ev.zone_id.as_deref(), Some("square"));
    assert_eq!(ev.severity, Severity::Major);
    // x = 0.1 + 0.05·i first exceeds 0.4 at i = 7 (0.45; 0.4 itself is the edge).
    assert!(ev.at == at(6.0) || ev.at == at(7.0), "entered at {}", ev.at);
    assert_eq!(
        ev.objects.iter().map(|o| o.track_id).collect::<Vec<_>>(),
        vec![7]
    );
    assert_eq!(ev.summary, "person #7 entered zone square (区域入侵)");
    let alert = ev.to_alert();
    alert.validate().unwrap();
    assert_eq!(alert.objects[0].class, "person");
    assert_eq!(alert.objects[0].track, Some(7));
    assert_eq!(alert.frame_size, Some(FRAME));
}

#[test]
fn zone_intrusion_near_miss_and_other_classes_do_not_fire() {
    let mut e = engine(vec![intrusion(&["person"])]);
    // Walking just above the zone: the box overlaps it, the feet never enter.
    assert!(run(&mut e, walk_across(1, 0.39, 0.0)).is_empty());
    // A car driving through a person-only zone.
    let cars = (0..=16).map(|i| obs(100.0 + i as f64, vec![car(2, 0.1 + 0.05 * i as f32, 0.5)]));
    assert!(run(&mut e, cars).is_empty());
    // The same car with a vehicle rule does fire.
    let mut e = engine(vec![intrusion(&["car", "truck"])]);
    let cars = (0..=16).map(|i| obs(i as f64, vec![car(2, 0.1 + 0.05 * i as f32, 0.5)]));
    assert_eq!(run(&mut e, cars).len(), 1);
}

#[test]
fn zone_intrusion_ignores_one_sample_of_edge_jitter_but_fires_on_a_real_reentry() {
    let mut r = intrusion(&["person"]);
    r.cooldown = Duration::from_secs(1);
    let mut e = engine(vec![r]);
    // In, out for one sample, in again — after the cooldown: still the same stay.
    let xs = [0.5, 0.5, 0.65, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    let seq = xs
        .iter()
        .enumerate()
        .map(|(i, x)| obs(i as f64, vec![person(3, *x, 0.5)]));
    assert_eq!(run(&mut e, seq).len(), 1);
    // Out for two samples, then back in: a new entry.
    let xs = [0.65, 0.7, 0.5];
    let seq = xs
        .iter()
        .enumerate()
        .map(|(i, x)| obs(20.0 + i as f64, vec![person(3, *x, 0.5)]));
    assert_eq!(run(&mut e, seq).len(), 1);
}

// ---- line crossing -------------------------------------------------------------------------

/// A horizontal line drawn left to right: its right side is the lower part of the picture.
fn line_rule(direction: CrossDirection) -> Rule {
    rule(
        "kerb",
        RuleSpec::LineCrossing {
            line: [[0.2, 0.5], [0.8, 0.5]],
            direction,
            classes: vec!["person".into()],
        },
    )
}

/// A person walking vertically at x from y0 to y1 in `n` samples, one per second.
fn walk_vertical(id: u64, x: f32, y0: f32, y1: f32, n: usize, start: f64) -> Vec<Observation> {
    (0..=n)
        .map(|i| {
            let y = y0 + (y1 - y0) * i as f32 / n as f32;
            obs(start + i as f64, vec![person(id, x, y)])
        })
        .collect()
}

#[test]
fn line_crossing_direction_both_ways() {
    let down = walk_vertical(1, 0.5, 0.3, 0.7, 8, 0.0);
    let up = walk_vertical(2, 0.5, 0.7, 0.3, 8, 0.0);

    let mut e = engine(vec![line_rule(CrossDirection::LeftToRight)]);
    let ev = run(&mut e, down.clone());
    assert_eq!(
        ev.len(),
        1,
        "walking down the picture crosses A→B from left to right"
    );
    assert_eq!(ev[0].event_type, EventType::LineCrossing);
    assert_eq!(
        ev[0].summary,
        "person #1 crossed line kerb left_to_right (越线)"
    );
    let mut e = engine(vec![line_rule(CrossDirection::LeftToRight)]);
    assert!(run(&mut e, up.clone()).is_empty());

    let mut e = engine(vec![line_rule(CrossDirection::RightToLeft)]);
    assert!(run(&mut e, down.clone()).is_empty());
    let mut e = engine(vec![line_rule(CrossDirection::RightToLeft)]);
    let ev = run(&mut e, up.clone());
    assert_eq!(ev.len(), 1);
    assert!(ev[0].summary.contains("right_to_left"));

    let mut e = engine(vec![line_rule(CrossDirection::Any)]);
    assert_eq!(run(&mut e, down).len(), 1);
    let mut e = engine(vec![line_rule(CrossDirection::Any)]);
    assert_eq!(run(&mut e, up).len(), 1);
}

#[test]
fn line_crossing_beyond_the_segment_end_does_not_count() {
    let mut e = engine(vec![line_rule(CrossDirection::Any)]);
    assert!(run(&mut e, walk_vertical(1, 0.9, 0.3, 0.7, 8, 0.0)).is_empty());
}

#[test]
fn line_crossing_is_found_between_sparse_samples() {
    // 0.5 samples per second: one sample above the line, the next well below it.
    let mut e = engine(vec![line_rule(CrossDirection::LeftToRight)]);
    let seq = vec![
        obs(0.0, vec![person(1, 0.5, 0.3)]),
        obs(2.0, vec![person(1, 0.52, 0.75)]),
    ];
    assert_eq!(run(&mut e, seq).len(), 1);
    // Missed on the far side for a few samples, then seen again beyond the line.
    let mut e = engine(vec![line_rule(CrossDirection::LeftToRight)]);
    let seq = vec![
        obs(0.0, vec![person(1, 0.5, 0.45)]),
        obs(1.0, vec![]),
        obs(2.0, vec![]),
        obs(3.0, vec![person(1, 0.5, 0.6)]),
    ];
    assert_eq!(run(&mut e, seq).len(), 1);
}

#[test]
fn standing_on_the_line_does_not_fire_back_and_forth() {
    let mut e = engine(vec![line_rule(CrossDirection::Any)]);
    // Foot point wobbling ±3 px around the line (inside the dead band), for a minute.
    let seq = (0..60).map(|i| {
        obs(
            i as f64,
            vec![person(1, 0.5, if i % 2 == 0 { 0.503 } else { 0.497 })],
        )
    });
    assert!(run(&mut e, seq).is_empty());
}

// ---- loitering -----------------------------------------------------------------------------

fn loiter_rule(dwell_s: u64) -> Rule {
    rule(
        "lobby",
        RuleSpec::Loitering {
            zone: SQUARE.to_vec(),
            dwell: Duration::from_secs(dwell_s),
        },
    )
}

/// A person standing around inside the zone from `enter` to `leave` seconds, then outside.
fn loiter(id: u64, enter: f64, leave: f64) -> Vec<Observation> {
    let mut seq = vec![
        obs(enter - 2.0, vec![person(id, 0.3, 0.5)]),
        obs(enter - 1.0, vec![person(id, 0.35, 0.5)]),
    ];
    let mut s = enter;
    let mut k = 0;
    while s <= leave {
        let x = 0.45 + 0.02 * (k % 5) as f32;
        seq.push(obs(s, vec![person(id, x, 0.5)]));
        s += 1.0;
        k += 1;
    }
    seq.push(obs(s, vec![person(id, 0.7, 0.5)]));
    seq.push(obs(s + 1.0, vec![person(id, 0.8, 0.5)]));
    seq
}

#[test]
fn loitering_fires_once_when_the_dwell_is_reached() {
    let mut e = engine(vec![loiter_rule(30)]);
    let events = run(&mut e, loiter(4, 10.0, 100.0));
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].event_type, EventType::Loitering);
    assert_eq!(events[0].at, at(40.0));
    assert_eq!(
        events[0].summary,
        "person #4 stayed 30 s in zone lobby (徘徊)"
    );
}

#[test]
fn loitering_one_second_short_does_not_fire() {
    let mut e = engine(vec![loiter_rule(30)]);
    assert!(run(&mut e, loiter(4, 10.0, 39.0)).is_empty());
}

#[test]
fn loitering_survives_a_missed_detection_and_one_sample_outside() {
    let mut e = engine(vec![loiter_rule(30)]);
    let mut seq = Vec::new();
    for s in 0..=30 {
        let objects = match s {
            12..=14 => vec![],                // occluded for three samples
            20 => vec![person(4, 0.62, 0.5)], // one sample just outside
            _ => vec![person(4, 0.5, 0.5)],
        };
        seq.push(obs(s as f64, objects));
    }
    assert_eq!(run(&mut e, seq).len(), 1);
}

#[test]
fn loitering_ignores_vehicles() {
    let mut e = engine(vec![loiter_rule(30)]);
    let seq = (0..=60).map(|s| obs(s as f64, vec![car(9, 0.5, 0.5)]));
    assert!(run(&mut e, seq).is_empty());
}

// ---- crowd gathering -----------------------------------------------------------------------

fn crowd_rule() -> Rule {
    rule(
        "plaza",
        RuleSpec::CrowdGathering {
            zone: SQUARE.to_vec(),
            min_persons: 3,
            duration: Duration::from_secs(20),
        },
    )
}

/// `n(s)` persons in the zone (plus one outside it) at each second in `0..=secs`.
fn crowd(secs: u32, n: impl Fn(u32) -> usize) -> Vec<Observation> {
    (0..=secs)
        .map(|s| {
            let mut objects: Vec<TrackedObject> = (0..n(s))
                .map(|k| person(10 + k as u64, 0.42 + 0.04 * k as f32, 0.5))
                .collect();
            objects.push(person(99, 0.9, 0.9));
            obs(s as f64, objects)
        })
        .collect()
}

#[test]
fn crowd_gathering_fires_once_after_the_duration() {
    let mut e = engine(vec![crowd_rule()]);
    let events = run(&mut e, crowd(90, |_| 4));
    assert_eq!(events.len(), 1, "{events:#?}");
    let ev = &events[0];
    assert_eq!(ev.event_type, EventType::CrowdGathering);
    assert_eq!(ev.at, at(20.0));
    assert_eq!(
        ev.objects.len(),
        4,
        "the persons in the zone, not the one outside"
    );
    assert_eq!(ev.summary, "4 persons in zone plaza for 20 s (人员聚集)");
}

#[test]
fn crowd_gathering_one_person_short_does_not_fire() {
    let mut e = engine(vec![crowd_rule()]);
    assert!(run(&mut e, crowd(90, |_| 2)).is_empty());
}

#[test]
fn crowd_gathering_tolerates_a_single_missed_sample_but_not_two() {
    let mut e = engine(vec![crowd_rule()]);
    let ev = run(&mut e, crowd(30, |s| if s == 10 { 2 } else { 3 }));
    assert_eq!(ev.iter().map(|e| e.at).collect::<Vec<_>>(), vec![at(20.0)]);

    let mut e = engine(vec![crowd_rule()]);
    let ev = run(
        &mut e,
        crowd(40, |s| if s == 10 || s == 11 { 2 } else { 3 }),
    );
    // The episode restarted at 12 s.
    assert_eq!(ev.iter().map(|e| e.at).collect::<Vec<_>>(), vec![at(32.0)]);
}

// ---- stationary vehicle --------------------------------------------------------------------

fn parking_rule() -> Rule {
    rule(
        "bay",
        RuleSpec::StationaryVehicle {
            zone: SQUARE.to_vec(),
            duration: Duration::from_secs(120),
            classes: ["car", "motorcycle", "bus", "truck"]
                .map(String::from)
                .to_vec(),
        },
    )
}

#[test]
fn stationary_vehicle_fires_once_after_the_duration() {
    let mut e = engine(vec![parking_rule()]);
    // Drives in, then stands with a few pixels of box jitter for 5 minutes, sampled every 2 s.
    let mut seq: Vec<Observation> = (0..5)
        .map(|i| obs(i as f64, vec![car(5, 0.1 + 0.08 * i as f32, 0.5)]))
        .collect();
    for k in 0..150 {
        let j = (k % 3) as f32 * 0.003;
        seq.push(obs(6.0 + 2.0 * k as f64, vec![car(5, 0.5 + j, 0.5 - j)]));
    }
    let events = run(&mut e, seq);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].event_type, EventType::StationaryVehicle);
    // Its feet entered the zone at 4 s while still driving; the timer restarted once it had
    // been seen at its final place twice (6 s and 8 s), and ran 120 s from there.
    assert_eq!(events[0].at, at(128.0));
    assert_eq!(
        events[0].summary,
        "car #5 stationary 120 s in zone bay (违停)"
    );
}

#[test]
fn a_creeping_vehicle_is_not_stationary() {
    let mut e = engine(vec![parking_rule()]);
    // 0.6 px/s: it takes ~50 s to move a quarter of its 120 px length, so the timer restarts
    // long before 120 s, although consecutive samples barely differ.
    let seq = (0..=300).map(|s| obs(s as f64, vec![car(5, 0.41 + 0.0006 * s as f32, 0.5)]));
    assert!(run(&mut e, seq).is_empty());
}

#[test]
fn a_vehicle_parked_outside_the_zone_or_a_person_inside_does_not_fire() {
    let mut e = engine(vec![parking_rule()]);
    let seq = (0..=300).map(|s| obs(s as f64, vec![car(5, 0.8, 0.8), person(6, 0.5, 0.5)]));
    assert!(run(&mut e, seq).is_empty());
}

#[test]
fn one_jumpy_box_does_not_restart_the_stationary_timer() {
    let mut e = engine(vec![parking_rule()]);
    let seq = (0..=130).map(|s| {
        // At 60 s a passing pedestrian hides half the car: its box shrinks and shifts.
        let c = if s == 60 {
            let mut c = car(5, 0.5, 0.5);
            c.bbox[0] += 80.0;
            c
        } else {
            car(5, 0.5, 0.5)
        };
        obs(s as f64, vec![c])
    });
    let ev = run(&mut e, seq);
    assert_eq!(ev.iter().map(|e| e.at).collect::<Vec<_>>(), vec![at(120.0)]);
}

// ---- cooldown, schedule, enabled -----------------------------------------------------------

#[test]
fn cooldown_merges_a_burst_and_lets_a_later_event_through() {
    let mut e = engine(vec![intrusion(&["person"])]); // cooldown 60 s
    let mut seq = Vec::new();
    seq.extend(walk_across(1, 0.5, 0.0)); // enters at ~7 s
    seq.extend(walk_across(2, 0.45, 10.0)); // enters at ~17 s: inside the cooldown
    seq.extend(walk_across(3, 0.55, 80.0)); // enters at ~87 s: after it
    let ev = run(&mut e, seq);
    assert_eq!(
        ev.iter().map(|e| e.objects[0].track_id).collect::<Vec<_>>(),
        vec![1, 3]
    );
    // Track 2's entry was consumed by the cooldown, not deferred: it stays quiet afterwards.
}

#[test]
fn schedule_unarmed_window_gives_nothing() {
    let mut r = intrusion(&["person"]);
    r.schedule = vec![parse_window("22:00-06:00").unwrap()];
    let mut e = engine(vec![r.clone()]);
    // 12:00 local: unarmed.
    assert!(run(&mut e, walk_across(1, 0.5, 0.0)).is_empty());
    // 23:00 local (11 h later): armed.
    let mut e = engine(vec![r]);
    assert_eq!(run(&mut e, walk_across(1, 0.5, 11.0 * 3600.0)).len(), 1);
}

#[test]
fn arming_starts_afresh() {
    // Armed from 12:01 local; a person already inside at 12:00 counts as entering at 12:01.
    let mut r = intrusion(&["person"]);
    r.schedule = vec![parse_window("12:01-13:00").unwrap()];
    let mut e = engine(vec![r]);
    let seq = (0..120).map(|s| obs(s as f64, vec![person(1, 0.5, 0.5)]));
    let ev = run(&mut e, seq);
    assert_eq!(ev.iter().map(|e| e.at).collect::<Vec<_>>(), vec![at(60.0)]);
}

#[test]
fn disabled_rules_never_fire() {
    let mut r = intrusion(&["person"]);
    r.enabled = false;
    let mut e = engine(vec![r]);
    assert!(run(&mut e, walk_across(1, 0.5, 0.0)).is_empty());
}

#[test]
fn each_rule_of_a_camera_fires_on_its_own() {
    let mut e = engine(vec![
        intrusion(&["person"]),
        line_rule(CrossDirection::Any),
        loiter_rule(30),
    ]);
    let ev = run(&mut e, walk_vertical(1, 0.5, 0.3, 0.7, 8, 0.0));
    let mut kinds: Vec<_> = ev.iter().map(|e| e.rule_id.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, vec!["kerb", "square"]);
}

// ---- memory --------------------------------------------------------------------------------

#[test]
fn per_track_state_is_forgotten() {
    let tuning = RuleTuning::default();
    let mut e = RuleEngine::with_tuning(
        CameraId::new("cam-test").unwrap(),
        vec![
            intrusion(&["person"]),
            line_rule(CrossDirection::Any),
            loiter_rule(30),
            parking_rule(),
        ],
        CST,
        tuning.clone(),
    );
    // 2000 short-lived tracks, a new one every second, each seen twice.
    let mut peak = 0;
    for i in 0..2000u64 {
        let s = i as f64;
        e.evaluate(&obs(
            s,
            vec![person(i, 0.5, 0.45), person(i.saturating_sub(1), 0.5, 0.55)],
        ));
        peak = peak.max(e.tracked_entries());
    }
    let per_rule = tuning.forget_after.as_secs() as usize + 2;
    assert!(peak <= 3 * per_rule, "peak {peak} per-track entries");
    e.evaluate(&obs(3000.0, vec![]));
    assert_eq!(e.tracked_entries(), 0);
}
