//! Tracker and rules on the real model and the real video: NanoDet-m 416 on `vtest.avi`
//! (768 × 576, 10 fps, a fixed elevated camera over a pedestrian path), sampled at the rates
//! the pipeline uses.
//!
//! Like the detector tests, these FAIL (they do not skip) when the model, ONNX Runtime or
//! vtest.avi is missing. Frames are decoded by `ffmpeg` into BGR24 and detected with the
//! crate's own [`Detector`]; nothing here is scripted.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use xueliang_analyzer::analysis::CameraAnalysis;
use xueliang_analyzer::detector::{Detector, DetectorOptions, PictureRef};
use xueliang_analyzer::model::resolve_model;
use xueliang_analyzer::tracker::replay::{DetectionFrame, replay, subsample};
use xueliang_analyzer::types::TrackedObject;
use xueliang_core::CameraId;
use xueliang_core::config::{CrossDirection, NormPoint, Rule, RuleSpec};
use xueliang_core::contract::Severity;

const VTEST: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
const W: u32 = 768;
const H: u32 = 576;
const FPS: u32 = 10;

fn detector() -> Detector {
    let model = resolve_model("nanodet-m-416", None).unwrap_or_else(|e| {
        panic!("\n\n*** real-video tests need the model: {e}\n*** run `./xl setup` first.\n")
    });
    Detector::new(&model, &DetectorOptions::default()).unwrap_or_else(|e| {
        panic!("\n\n*** cannot create the detector: {e}\n*** run `./xl setup` first.\n")
    })
}

/// Detections for frames `first..=last` of vtest.avi, every `step`-th frame, with `t` = frame
/// number / 10 fps, from the crate's own detector on frames decoded by ffmpeg.
fn detections(first: u32, last: u32, step: u32) -> Vec<DetectionFrame> {
    assert!(
        Path::new(VTEST).is_file(),
        "{VTEST} is missing: install the Debian package opencv-doc"
    );
    let mut det = detector();
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i", VTEST, "-vf"])
        .arg(format!("select=between(n\\,{first}\\,{last})"))
        .args([
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg must be installed (Debian package ffmpeg)");
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; (W * H * 3) as usize];
    let mut frames = Vec::new();
    for n in first..=last {
        out.read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("reading frame {n} of {VTEST} from ffmpeg: {e}"));
        if !(n - first).is_multiple_of(step) {
            continue;
        }
        let detections = det.detect(PictureRef::bgr(W, H, &buf)).expect("detect");
        frames.push(DetectionFrame {
            t: Duration::from_millis(u64::from(n) * 1000 / u64::from(FPS)),
            frame_size: Some([W, H]),
            detections,
        });
    }
    drop(out);
    let _ = child.wait();
    frames
}

/// Writes the detections of the whole clip at 10 fps as JSON lines (the replay format) to
/// `$XL_RECORD_DETECTIONS`, for replay experiments and benches.
#[test]
#[ignore = "writes a recording; run with XL_RECORD_DETECTIONS=/path/file.jsonl"]
fn record_vtest_detections() {
    let path =
        std::env::var("XL_RECORD_DETECTIONS").expect("set XL_RECORD_DETECTIONS to the output path");
    let mut text = String::new();
    for f in detections(0, 794, 1) {
        let dets: Vec<serde_json::Value> = f
            .detections
            .iter()
            .map(|d| {
                serde_json::json!({
                    "class": xueliang_core::labels::COCO80[usize::from(d.class)],
                    "score": (f64::from(d.score) * 1000.0).round() / 1000.0,
                    "box": d.bbox.map(|v| (f64::from(v) * 10.0).round() / 10.0),
                })
            })
            .collect();
        let line =
            serde_json::json!({"t": f.t.as_secs_f64(), "frame_size": [W, H], "detections": dets});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
}

// ---- the tracker -----------------------------------------------------------------------------

/// Foot point (bottom-centre) of a box, in pixels.
fn foot(b: &[f32; 4]) -> [f32; 2] {
    [(b[0] + b[2]) / 2.0, b[3]]
}

fn near(a: [f32; 2], b: [f32; 2], px: f32) -> bool {
    (a[0] - b[0]).hypot(a[1] - b[1]) <= px
}

/// Two pedestrians walking from the lamp post to the left edge of the picture, checked by eye
/// on frames of the clip: a man in a light hoodie (foot at (365, 244) at 16 s, (96, 216) at
/// 20 s) and, two seconds behind him, a man in a striped jumper ((380, 293) at 18 s,
/// (110, 250) at 22 s). Each must keep one id from start to end, moving left all the way.
#[test]
fn pedestrians_keep_their_ids_across_the_path_at_every_sample_rate() {
    let frames = detections(140, 230, 2); // 14.0–23.0 s at 5 fps
    let walkers = [
        ("hoodie", 16.0, [365.0, 244.0], 20.0, [96.0, 216.0]),
        ("striped", 18.0, [380.0, 293.0], 22.0, [110.0, 250.0]),
    ];
    for period_ms in [200u64, 500, 1000, 2000] {
        let sub = subsample(&frames, Duration::from_millis(period_ms));
        let mut tracking = CameraAnalysis::new(CameraId::new("vtest").unwrap(), vec![], 0);
        let out = replay(sub, &mut tracking, chrono::DateTime::UNIX_EPOCH, [W, H]);
        let at = |t: f64| -> &Vec<TrackedObject> {
            &out.tracks
                .iter()
                .find(|(d, _)| (d.as_secs_f64() - t).abs() < 1e-6)
                .unwrap_or_else(|| panic!("no sample at {t} s"))
                .1
        };
        for (name, t0, p0, t1, p1) in walkers {
            let find = |t: f64, p: [f32; 2]| {
                at(t)
                    .iter()
                    .filter(|o| o.class == 0 && near(foot(&o.bbox), p, 30.0))
                    .map(|o| o.track_id)
                    .next()
            };
            let id = find(t0, p0).unwrap_or_else(|| {
                panic!(
                    "{period_ms} ms: {name} not tracked at {t0} s near {p0:?}: {:?}",
                    at(t0)
                )
            });
            let end = find(t1, p1);
            assert_eq!(
                end,
                Some(id),
                "{period_ms} ms: {name} started as track {id} at {t0} s but ended as {end:?} at {t1} s: {:?}",
                at(t1)
            );
            let xs: Vec<f32> = out
                .tracks
                .iter()
                .filter(|(d, _)| (t0..=t1).contains(&d.as_secs_f64()))
                .filter_map(|(_, objs)| {
                    objs.iter()
                        .find(|o| o.track_id == id)
                        .map(|o| foot(&o.bbox)[0])
                })
                .collect();
            assert!(
                xs.windows(2).all(|w| w[1] < w[0] + 5.0),
                "{period_ms} ms: track {id} ({name}) went back right: {xs:?}"
            );
        }
    }
}

// ---- the rules ---------------------------------------------------------------------------------

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

/// An axis-aligned zone from pixel corners, normalised.
fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<NormPoint> {
    let (w, h) = (W as f32, H as f32);
    vec![
        [x0 / w, y0 / h],
        [x1 / w, y0 / h],
        [x1 / w, y1 / h],
        [x0 / w, y1 / h],
    ]
}

fn persons() -> Vec<String> {
    vec!["person".to_string()]
}

/// Every rule kind on the first 24 s of the clip at 2 fps, with zones drawn on the scene. What
/// happens there was checked by eye on the frames, with the tracks drawn in:
/// - 0.5–1 s: a man in black walks rightwards past x = 307 px towards the lamp post; a man
///   coming down the path from the top meets him there at ~3 s and stands by the post until
///   ~15 s; at ~7.5 s the man in black walks back leftwards past x = 307 px;
/// - 5–11 s: four or five people on the middle of the path at once;
/// - ~18.5 s: the man in the light hoodie is the first to reach the left end of the path;
/// - all along: a white van and a car parked at the top right.
///
/// Each rule fires exactly once, at that moment and on that object; the near-miss twins (six
/// people, a 20 s dwell) never fire. Cooldowns are 60 s, longer than the segment, so "once"
/// also checks that the first firing is the right one.
#[test]
fn every_rule_fires_once_on_the_real_clip() {
    let frames = detections(0, 240, 5); // 0–24 s at 2 fps
    let rules = vec![
        // The left end of the path; the hoodie walker is the first to step into it (~18.5 s).
        rule(
            "left-path",
            RuleSpec::ZoneIntrusion {
                zone: rect(0.0, 180.0, 192.0, 300.0),
                classes: persons(),
            },
        ),
        // A line across the path at x = 307 px, drawn bottom to top: facing up the picture, its
        // right side is the right of the picture, so walking leftwards is right_to_left.
        rule(
            "post-line",
            RuleSpec::LineCrossing {
                line: [[0.4, 0.6], [0.4, 0.35]],
                direction: CrossDirection::RightToLeft,
                classes: persons(),
            },
        ),
        rule(
            "post-line-ltr",
            RuleSpec::LineCrossing {
                line: [[0.4, 0.6], [0.4, 0.35]],
                direction: CrossDirection::LeftToRight,
                classes: persons(),
            },
        ),
        // Where the man beside the lamp post stands for the first ~15 s.
        rule(
            "post-stand",
            RuleSpec::Loitering {
                zone: rect(355.0, 240.0, 435.0, 295.0),
                dwell: Duration::from_secs(8),
            },
        ),
        rule(
            "post-stand-long",
            RuleSpec::Loitering {
                zone: rect(355.0, 240.0, 435.0, 295.0),
                dwell: Duration::from_secs(20),
            },
        ),
        // The middle of the path, busiest at 5–11 s with 4–5 people.
        rule(
            "mid-crowd",
            RuleSpec::CrowdGathering {
                zone: rect(200.0, 200.0, 600.0, 420.0),
                min_persons: 4,
                duration: Duration::from_secs(5),
            },
        ),
        rule(
            "mid-crowd-6",
            RuleSpec::CrowdGathering {
                zone: rect(200.0, 200.0, 600.0, 420.0),
                min_persons: 6,
                duration: Duration::from_secs(5),
            },
        ),
        // The parked van and car at the top right.
        rule(
            "top-right-bay",
            RuleSpec::StationaryVehicle {
                zone: rect(600.0, 60.0, 768.0, 130.0),
                duration: Duration::from_secs(20),
                classes: ["car", "bus", "truck"].map(String::from).to_vec(),
            },
        ),
    ];
    let mut analysis = CameraAnalysis::new(CameraId::new("vtest").unwrap(), rules, 8 * 3600);
    let out = replay(&frames, &mut analysis, chrono::DateTime::UNIX_EPOCH, [W, H]);
    let by_rule = |id: &str| -> Vec<(f64, Vec<[f32; 2]>, String)> {
        out.events
            .iter()
            .filter(|e| e.rule_id == id)
            .map(|e| {
                let t = (e.at - chrono::DateTime::UNIX_EPOCH).as_seconds_f64();
                (
                    t,
                    e.objects.iter().map(|o| foot(&o.bbox)).collect(),
                    e.summary.clone(),
                )
            })
            .collect()
    };
    let once = |id: &str, from: f64, to: f64| -> (Vec<[f32; 2]>, String) {
        let ev = by_rule(id);
        assert_eq!(
            ev.len(),
            1,
            "rule {id}: expected one event, got {ev:?}\nall: {:#?}",
            out.events
        );
        let (t, feet, summary) = ev.into_iter().next().unwrap();
        assert!(
            (from..=to).contains(&t),
            "rule {id} fired at {t} s, expected {from}–{to} s: {summary}"
        );
        (feet, summary)
    };

    let (feet, _) = once("post-line-ltr", 0.5, 1.5);
    assert!(
        feet.len() == 1 && feet[0][0] > 307.0,
        "crossing rightwards: {feet:?}"
    );
    let (feet, _) = once("post-line", 7.0, 8.0);
    assert!(
        feet.len() == 1 && feet[0][0] < 307.0,
        "crossing leftwards: {feet:?}"
    );
    let (feet, summary) = once("mid-crowd", 9.0, 10.5);
    assert!((4..=5).contains(&feet.len()), "{summary}");
    assert!(
        by_rule("mid-crowd-6").is_empty(),
        "{:?}",
        by_rule("mid-crowd-6")
    );
    let (feet, _) = once("post-stand", 10.5, 12.0);
    assert!(
        feet.len() == 1 && near(feet[0], [390.0, 255.0], 25.0),
        "the man by the post: {feet:?}"
    );
    assert!(
        by_rule("post-stand-long").is_empty(),
        "{:?}",
        by_rule("post-stand-long")
    );
    let (feet, _) = once("left-path", 18.0, 19.5);
    assert!(
        feet.len() == 1 && near(feet[0], [190.0, 228.0], 30.0),
        "the hoodie walker: {feet:?}"
    );
    let (feet, summary) = once("top-right-bay", 20.0, 21.5);
    assert_eq!(feet.len(), 2, "van and car: {summary}");
    for e in &out.events {
        e.to_alert().validate().unwrap();
    }
}
