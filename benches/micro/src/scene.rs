//! A synthetic street seen by one fixed camera (768×576, like `vtest.avi`), sampled at a fixed
//! period: the input of the tracker benchmark, and — once tracked — of the rules benchmark.
//!
//! What makes it realistic for the tracker's cost:
//! - A constant population of `objects` actors: pedestrians walking at about one body height
//!   per second in any direction (mostly across the picture), cars driving through, and a few
//!   parked vehicles. Box sizes grow towards the bottom of the picture (perspective).
//! - Detector noise: box jitter of a few per cent, scores 0.5–0.85, a missed detection now and
//!   then (coasting), a low-score detection now and then (ByteTrack's second stage), and a
//!   few low-score false positives. Actors that leave the picture are replaced by new ones
//!   entering at an edge, so tracks are born and die throughout.
//!
//! [`camera_rules`] is one camera's rule set drawn over that street: two intrusion zones, a
//! line across the path, loitering, a crowd zone and a no-parking zone.

use crate::Rng;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::time::Duration;
use xueliang_analyzer::tracker::{Tracker, TrackerConfig};
use xueliang_analyzer::types::{Detection, Observation};
use xueliang_core::CameraId;
use xueliang_core::config::{Inventory, Rule};

pub const FRAME_SIZE: [u32; 2] = [768, 576];

/// The detections of each sample, in time order, `period` apart.
#[derive(Debug, Clone)]
pub struct Scene {
    pub frame_size: [u32; 2],
    pub period: Duration,
    pub frames: Vec<Vec<Detection>>,
}

#[derive(Debug, Clone)]
struct Actor {
    class: u16,
    /// Bottom-centre (foot point) in pixels.
    x: f64,
    y: f64,
    /// Pixels per second.
    vx: f64,
    vy: f64,
    /// Width / height.
    aspect: f64,
    /// Height relative to the perspective height at the actor's y.
    size: f64,
    /// Parked vehicles: seconds until it drives off (then at `drive_vx`).
    parked_for: f64,
    drive_vx: f64,
}

const PERSON: u16 = 0;
const CAR: u16 = 2;
const TRUCK: u16 = 7;

/// Height in pixels of a person whose feet are at `y` (perspective: far = small).
fn person_height(y: f64) -> f64 {
    40.0 + 0.22 * y
}

impl Actor {
    fn spawn(rng: &mut Rng, w: f64, h: f64, anywhere: bool) -> Actor {
        let roll = rng.unit();
        let y = rng.range(0.25 * h, h);
        let (class, aspect, size, speed) = if roll < 0.75 {
            (PERSON, rng.range(0.35, 0.45), rng.range(0.85, 1.15), 0.9)
        } else if roll < 0.9 {
            (CAR, rng.range(1.6, 2.2), rng.range(0.6, 0.8), 3.0)
        } else {
            // Parked: a van that stays put (the stationary-vehicle rule's case).
            (TRUCK, rng.range(1.8, 2.4), rng.range(0.8, 1.0), 0.0)
        };
        let heading = if rng.unit() < 0.5 { 1.0 } else { -1.0 };
        // Walk or drive across the picture at `speed` own heights per second, with a little
        // vertical drift.
        let px = speed * size * person_height(y) * rng.range(0.7, 1.3);
        // A parked vehicle stays a few minutes, then drives off (else the street would fill
        // up with parked vans over a long run).
        let parked_for = if px == 0.0 {
            rng.range(60.0, 240.0)
        } else {
            0.0
        };
        let x = if anywhere || px == 0.0 {
            rng.range(0.0, w)
        } else if heading > 0.0 {
            0.0
        } else {
            w
        };
        Actor {
            class,
            x,
            y,
            vx: heading * px,
            vy: px * rng.range(-0.25, 0.25),
            aspect,
            size,
            parked_for,
            drive_vx: heading * 3.0 * size * person_height(y),
        }
    }

    fn bbox(&self) -> [f64; 4] {
        let h = self.size * person_height(self.y);
        let w = h * self.aspect;
        [self.x - w / 2.0, self.y - h, self.x + w / 2.0, self.y]
    }
}

/// `frames` samples, `period` apart, of a street with `objects` actors.
pub fn street(objects: usize, frames: usize, period: Duration, seed: u64) -> Scene {
    let mut rng = Rng::new(seed);
    let [w, h] = FRAME_SIZE.map(f64::from);
    let mut actors: Vec<Actor> = (0..objects)
        .map(|_| Actor::spawn(&mut rng, w, h, true))
        .collect();
    let dt = period.as_secs_f64();
    let mut out = Vec::with_capacity(frames);
    for _ in 0..frames {
        let mut dets = Vec::with_capacity(objects + 2);
        for a in &actors {
            let r = rng.unit();
            if r < 0.05 {
                continue; // missed by the detector this time
            }
            let score = if r < 0.15 {
                rng.range(0.25, 0.44) // partly occluded: second-stage material
            } else {
                rng.range(0.5, 0.85)
            };
            let b = a.bbox();
            let (bw, bh) = (b[2] - b[0], b[3] - b[1]);
            let j = |v: f64, s: f64, rng: &mut Rng| (v + s * rng.range(-0.03, 0.03)) as f32;
            let bbox = [
                j(b[0], bw, &mut rng).clamp(0.0, w as f32),
                j(b[1], bh, &mut rng).clamp(0.0, h as f32),
                j(b[2], bw, &mut rng).clamp(0.0, w as f32),
                j(b[3], bh, &mut rng).clamp(0.0, h as f32),
            ];
            if bbox[2] - bbox[0] < 2.0 || bbox[3] - bbox[1] < 2.0 {
                continue; // all but out of the picture
            }
            dets.push(Detection {
                class: a.class,
                score: score as f32,
                bbox,
            });
        }
        // A low-score false positive now and then (litter, a shadow).
        if rng.unit() < 0.3 {
            let (x, y) = (rng.range(0.0, w - 30.0), rng.range(0.0, h - 30.0));
            dets.push(Detection {
                class: rng.below(80) as u16,
                score: rng.range(0.2, 0.4) as f32,
                bbox: [x as f32, y as f32, (x + 25.0) as f32, (y + 25.0) as f32],
            });
        }
        out.push(dets);
        for a in &mut actors {
            if a.parked_for > 0.0 {
                a.parked_for -= dt;
                if a.parked_for <= 0.0 {
                    a.vx = a.drive_vx;
                }
            }
            a.x += a.vx * dt;
            a.y = (a.y + a.vy * dt).clamp(0.2 * h, h);
            let b = a.bbox();
            if b[2] < 0.0 || b[0] > w {
                *a = Actor::spawn(&mut rng, w, h, false);
            }
        }
    }
    Scene {
        frame_size: FRAME_SIZE,
        period,
        frames: out,
    }
}

/// One camera's rules over [`street`], parsed and validated like a real `cameras.toml`: six
/// rules, all armed in the daytime (one through a schedule).
pub fn camera_rules() -> (CameraId, Vec<Rule>) {
    const TOML: &str = r#"
[[camera]]
id = "44030400001320000001"
name = "bench street"
url = "rtsp://127.0.0.1:8554/cam/0"
location = { lat = 22.53, lon = 114.05 }
tier = "police"

  [[camera.rule]]
  id = "lawn-intrusion"
  kind = "zone_intrusion"
  classes = ["person"]
  zone = [[0.0, 0.45], [0.40, 0.55], [0.75, 0.85], [1.0, 0.88], [1.0, 1.0], [0.0, 1.0]]
  schedule = ["06:00-23:00"]
  cooldown_s = 120

  [[camera.rule]]
  id = "gate-vehicles"
  kind = "zone_intrusion"
  classes = ["car", "bus", "truck", "motorcycle"]
  zone = [[0.55, 0.30], [0.95, 0.30], [0.95, 0.60], [0.55, 0.60]]
  cooldown_s = 60

  [[camera.rule]]
  id = "path-crossing"
  kind = "line_crossing"
  line = [[0.50, 0.30], [0.50, 0.95]]
  direction = "any"
  classes = ["person", "bicycle"]
  cooldown_s = 10

  [[camera.rule]]
  id = "plaza-loitering"
  kind = "loitering"
  zone = [[0.0, 0.25], [1.0, 0.20], [1.0, 0.70], [0.0, 0.45]]
  dwell_s = 40
  cooldown_s = 300

  [[camera.rule]]
  id = "plaza-crowd"
  kind = "crowd_gathering"
  zone = [[0.0, 0.25], [1.0, 0.20], [1.0, 0.70], [0.0, 0.45]]
  min_persons = 5
  duration_s = 5
  cooldown_s = 300
  severity = "major"

  [[camera.rule]]
  id = "fire-lane-parking"
  kind = "stationary_vehicle"
  zone = [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]
  duration_s = 60
  cooldown_s = 600
"#;
    let inv = Inventory::parse(TOML, Path::new("bench-cameras.toml"), &|_| None)
        .expect("the bench camera inventory is valid");
    let cam = inv.cameras.into_iter().next().expect("one camera");
    (cam.id, cam.rules)
}

/// The tracker's output for every sample of `scene`, as the rules see it; sample `i` is at
/// `start + i × period`.
pub fn observations(scene: &Scene, start: DateTime<Utc>) -> Vec<Observation> {
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.set_frame_size(scene.frame_size);
    scene
        .frames
        .iter()
        .enumerate()
        .map(|(i, dets)| {
            let t = scene.period * i as u32;
            Observation {
                at: start + t,
                frame_size: scene.frame_size,
                objects: tracker.update(t, dets),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xueliang_analyzer::rules::RuleEngine;

    fn noon() -> DateTime<Utc> {
        // 20:00 in UTC+8: inside the scheduled rule's window.
        DateTime::parse_from_rfc3339("2025-06-02T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn the_street_keeps_its_population_and_renews_it() {
        let s = street(20, 400, Duration::from_millis(500), 3);
        let n: Vec<usize> = s.frames.iter().map(Vec::len).collect();
        let mean = n.iter().sum::<usize>() as f64 / n.len() as f64;
        assert!((17.0..=22.0).contains(&mean), "mean detections {mean}");
        // Tracks are confirmed, and new ids keep coming as actors leave and enter.
        let obs = observations(&s, noon());
        let tracked = obs[200..].iter().map(|o| o.objects.len()).sum::<usize>() as f64 / 200.0;
        assert!(tracked > 12.0, "only {tracked} tracked objects per sample");
        let max_id = |o: &[Observation]| {
            o.iter()
                .flat_map(|o| &o.objects)
                .map(|t| t.track_id)
                .max()
                .unwrap()
        };
        assert!(max_id(&obs) > max_id(&obs[..100]) + 10, "no track churn");
    }

    #[test]
    fn rules_see_objects_in_their_zones_and_fire() {
        let (cam, rules) = camera_rules();
        assert_eq!(rules.len(), 6);
        let obs = observations(&street(20, 400, Duration::from_millis(500), 3), noon());
        let mut engine = RuleEngine::new(cam, rules, 8 * 3600);
        let mut kinds = std::collections::BTreeSet::new();
        for o in &obs {
            for e in engine.evaluate(o) {
                kinds.insert(e.rule_id);
            }
        }
        // Intrusions, crossings and parking at least; the exact set depends on the seed.
        for want in ["lawn-intrusion", "path-crossing", "fire-lane-parking"] {
            assert!(kinds.contains(want), "{want} never fired: {kinds:?}");
        }
        assert!(engine.tracked_entries() > 0);
    }
}
