//! Tracker behaviour on scripted detections at the sample rates the pipeline uses (0.5–5 fps).
//!
//! The walkers move at one body height per second (a brisk walk), so at 1 fps and below their
//! boxes do not overlap between samples at all: these tests exercise the motion model and the
//! distance fallback, not only IoU.

use std::collections::BTreeMap;
use std::time::Duration;
use xueliang_analyzer::analysis::CameraAnalysis;
use xueliang_analyzer::tracker::replay::{parse_jsonl, replay, subsample};
use xueliang_analyzer::tracker::{Tracker, TrackerConfig};
use xueliang_analyzer::types::{Detection, TrackedObject};
use xueliang_core::CameraId;
use xueliang_core::config::{Rule, RuleSpec};
use xueliang_core::contract::{EventType, Severity};

/// Deterministic jitter in −1..1 (the detector's boxes wobble by a few pixels).
fn jitter(seed: u64) -> f32 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % 2001) as f32 / 1000.0 - 1.0
}

/// A 40 × 100 px pedestrian whose box's left edge is at `x` and bottom at `bottom`, with ±3 px
/// of jitter on every edge.
fn walker(x: f32, bottom: f32, seed: u64) -> Detection {
    let j = |k: u64| 3.0 * jitter(seed * 4 + k);
    Detection {
        class: 0,
        score: 0.75,
        bbox: [
            x + j(0),
            bottom - 100.0 + j(1),
            x + 40.0 + j(2),
            bottom + j(3),
        ],
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Runs `samples` (time, detections) and returns, per track id, the x centres it was seen at.
fn run(tracker: &mut Tracker, samples: &[(f64, Vec<Detection>)]) -> BTreeMap<u64, Vec<f32>> {
    let mut by_id: BTreeMap<u64, Vec<f32>> = BTreeMap::new();
    for (t, dets) in samples {
        for o in tracker.update(secs(*t), dets) {
            by_id
                .entry(o.track_id)
                .or_default()
                .push((o.bbox[0] + o.bbox[2]) / 2.0);
        }
    }
    by_id
}

/// A pedestrian walking right at 100 px/s for `duration` seconds, sampled at `fps`.
fn walk(fps: f64, duration: f64) -> Vec<(f64, Vec<Detection>)> {
    let n = (duration * fps).round() as u64;
    (0..=n)
        .map(|i| {
            let t = i as f64 / fps;
            (t, vec![walker(50.0 + 100.0 * t as f32, 400.0, i)])
        })
        .collect()
}

#[test]
fn a_walking_pedestrian_keeps_one_id_at_every_sample_rate() {
    for fps in [5.0, 2.0, 1.0, 0.5] {
        let samples = walk(fps, 12.0);
        let mut tr = Tracker::new(TrackerConfig::default());
        let ids = run(&mut tr, &samples);
        assert_eq!(
            ids.keys().copied().collect::<Vec<_>>(),
            vec![1],
            "{fps} fps: {ids:?}"
        );
        // Reported from the second sample (confirmation) on, at every sample.
        assert_eq!(ids[&1].len(), samples.len() - 1, "{fps} fps");
    }
}

#[test]
fn a_missed_detection_keeps_the_id() {
    for fps in [5.0, 1.0, 0.5] {
        let mut samples = walk(fps, 16.0);
        // The detector misses the walker in one sample in the middle.
        let mid = samples.len() / 2;
        samples[mid].1.clear();
        let mut tr = Tracker::new(TrackerConfig::default());
        let ids = run(&mut tr, &samples);
        assert_eq!(
            ids.keys().copied().collect::<Vec<_>>(),
            vec![1],
            "{fps} fps: {ids:?}"
        );
        assert_eq!(ids[&1].len(), samples.len() - 2, "{fps} fps");
    }
}

#[test]
fn two_missed_samples_at_1_fps_keep_the_id_too() {
    let mut samples = walk(1.0, 12.0);
    samples[5].1.clear();
    samples[6].1.clear();
    let ids = run(&mut Tracker::new(TrackerConfig::default()), &samples);
    assert_eq!(ids.keys().copied().collect::<Vec<_>>(), vec![1], "{ids:?}");
}

#[test]
fn a_track_lost_for_longer_than_max_lost_comes_back_with_a_new_id() {
    let cfg = TrackerConfig::default();
    let gone = cfg.max_lost.as_secs_f64() + 1.0;
    let mut tr = Tracker::new(cfg);
    let still = |t: f64| (t, vec![walker(300.0, 400.0, t as u64)]);
    let samples = vec![
        still(0.0),
        still(1.0),
        still(2.0),
        (3.0, vec![]),
        still(3.0 + gone),
        still(4.0 + gone),
    ];
    let ids = run(&mut tr, &samples);
    assert_eq!(
        ids.keys().copied().collect::<Vec<_>>(),
        vec![1, 2],
        "{ids:?}"
    );
}

/// Two pedestrians walking towards each other on nearly the same line, A (left, further away)
/// rightwards and B leftwards, 80 px/s each, meeting at t = 4 s (a sample at every rate used):
/// there the two boxes coincide but for B standing 10 px lower. With `occlude`, the detector
/// loses A while B's box covers it by more than half.
fn crossing(fps: f64, occlude: bool) -> Vec<(f64, Vec<Detection>)> {
    let n = (8.0 * fps).round() as u64;
    (0..=n)
        .map(|i| {
            let t = i as f64 / fps;
            let a = walker(100.0 + 80.0 * t as f32, 300.0, 2 * i);
            let b = walker(740.0 - 80.0 * t as f32, 310.0, 2 * i + 1);
            let hidden = occlude && (a.bbox[0] - b.bbox[0]).abs() < 20.0;
            (t, if hidden { vec![b] } else { vec![a, b] })
        })
        .collect()
}

fn assert_kept_direction(ids: &BTreeMap<u64, Vec<f32>>, what: &str) {
    assert_eq!(
        ids.len(),
        2,
        "{what}: expected exactly two ids, got {ids:?}"
    );
    let mut dirs = Vec::new();
    for (id, xs) in ids {
        let moves: Vec<f32> = xs.windows(2).map(|w| w[1] - w[0]).collect();
        let right = moves.iter().all(|d| *d > 0.0);
        let left = moves.iter().all(|d| *d < 0.0);
        assert!(
            right || left,
            "{what}: track {id} changed direction (an id swap): {xs:?}"
        );
        dirs.push(right);
    }
    assert_ne!(
        dirs[0], dirs[1],
        "{what}: both ids went the same way: {ids:?}"
    );
}

#[test]
fn two_crossing_pedestrians_keep_their_ids() {
    for fps in [5.0, 2.0, 1.0] {
        for occlude in [false, true] {
            let ids = run(
                &mut Tracker::new(TrackerConfig::default()),
                &crossing(fps, occlude),
            );
            assert_kept_direction(&ids, &format!("{fps} fps, occlusion {occlude}"));
        }
    }
}

#[test]
fn low_score_detections_extend_tracks_but_never_start_them() {
    let mut samples = walk(2.0, 6.0);
    // Partly occluded for two samples: the detector is unsure.
    for s in &mut samples[5..7] {
        s.1[0].score = 0.3;
    }
    // A lone low-score false positive somewhere else, at every sample.
    for (i, s) in samples.iter_mut().enumerate() {
        s.1.push(Detection {
            class: 0,
            score: 0.3,
            bbox: [900.0, 50.0, 930.0, 120.0 + i as f32 * 0.1],
        });
    }
    let ids = run(&mut Tracker::new(TrackerConfig::default()), &samples);
    assert_eq!(ids.keys().copied().collect::<Vec<_>>(), vec![1], "{ids:?}");
    assert_eq!(
        ids[&1].len(),
        samples.len() - 1,
        "the low-score samples extend the track"
    );
}

#[test]
fn classes_do_not_mix() {
    // A person and a dog walking together, boxes overlapping.
    let samples: Vec<(f64, Vec<Detection>)> = (0..10u32)
        .map(|i| {
            let t = f64::from(i);
            let p = walker(100.0 + 50.0 * t as f32, 400.0, u64::from(i));
            let mut d = walker(110.0 + 50.0 * t as f32, 400.0, 100 + u64::from(i));
            d.class = 16;
            d.bbox[1] += 60.0;
            (t, vec![p, d])
        })
        .collect();
    let mut tr = Tracker::new(TrackerConfig::default());
    let mut classes: BTreeMap<u64, Vec<u16>> = BTreeMap::new();
    for (t, dets) in &samples {
        for o in tr.update(secs(*t), dets) {
            classes.entry(o.track_id).or_default().push(o.class);
        }
    }
    assert_eq!(classes.len(), 2);
    for cs in classes.values() {
        assert!(cs.windows(2).all(|w| w[0] == w[1]), "{classes:?}");
    }
}

#[test]
fn update_into_reuses_the_buffer_and_matches_update() {
    let samples = crossing(2.0, false);
    let (mut a, mut b) = (
        Tracker::new(TrackerConfig::default()),
        Tracker::new(TrackerConfig::default()),
    );
    let mut buf: Vec<TrackedObject> = Vec::with_capacity(8);
    for (t, dets) in &samples {
        a.update_into(secs(*t), dets, &mut buf);
        assert_eq!(buf, b.update(secs(*t), dets));
    }
}

/// Scripted (not recorded) detections in the replay format: one pedestrian walking into a
/// zone at 1 fps while the sampler's clock jitters; the tracker and an intrusion rule together
/// give exactly one alert, carrying the tracker's id.
#[test]
fn replayed_detections_drive_tracker_and_rules() {
    let mut text = String::new();
    for i in 0..20 {
        let t = f64::from(i) + 0.05 * f64::from(i % 3);
        let x = 50.0 + 40.0 * f64::from(i);
        text.push_str(&format!(
            "{{\"t\": {t}, \"detections\": [{{\"class\": \"person\", \"score\": 0.7, \"box\": [{x}, 300, {}, 400]}}]}}\n",
            x + 40.0
        ));
    }
    let frames = parse_jsonl(&text, "scripted").unwrap();
    let rule = Rule {
        id: "yard".into(),
        spec: RuleSpec::ZoneIntrusion {
            zone: vec![[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]],
            classes: vec!["person".into()],
        },
        cooldown: Duration::from_secs(60),
        severity: Severity::Major,
        schedule: Vec::new(),
        enabled: true,
    };
    let mut analysis =
        CameraAnalysis::new(CameraId::new("cam-replay").unwrap(), vec![rule], 8 * 3600);
    let epoch = chrono::DateTime::parse_from_rfc3339("2025-06-01T04:00:00Z")
        .unwrap()
        .to_utc();
    let out = replay(&frames, &mut analysis, epoch, [800, 600]);
    assert_eq!(out.events.len(), 1, "{:#?}", out.events);
    assert_eq!(out.events[0].event_type, EventType::ZoneIntrusion);
    assert_eq!(out.events[0].objects[0].track_id, 1);
    // Feet cross x = 400 px (0.5 of 800) between samples 8 and 9.
    assert_eq!(
        out.events[0].at,
        epoch + chrono::TimeDelta::milliseconds(9_000)
    );
    let ids: std::collections::BTreeSet<u64> = out
        .tracks
        .iter()
        .flat_map(|(_, o)| o.iter().map(|o| o.track_id))
        .collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![1]);
    // The same recording subsampled to 0.5 fps still gives one track.
    let mut tracking = CameraAnalysis::new(CameraId::new("cam-replay").unwrap(), vec![], 0);
    let sparse = subsample(&frames, Duration::from_secs(2));
    let out = replay(sparse, &mut tracking, epoch, [800, 600]);
    let ids: std::collections::BTreeSet<u64> = out
        .tracks
        .iter()
        .flat_map(|(_, o)| o.iter().map(|o| o.track_id))
        .collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![1]);
}
