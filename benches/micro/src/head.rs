//! Synthetic NanoDet-m 416 head outputs: for each of the three levels (strides 8/16/32, grids
//! 52², 26², 13²), class scores `[cells, 80]` (already sigmoid) and box regression
//! `[cells, 4 × 11]` (4 sides × `reg_max + 1` bins), as `postprocess::decode` reads them.
//!
//! What makes them realistic for the decoder's cost:
//! - **Background**: every score is small (cubed uniform × 0.2, so mostly ≈ 0.00–0.05, never at
//!   the 0.35 threshold): the cheap "any class above threshold?" scan rejects the cell, as it
//!   does for the ~3,500 empty cells of a real frame.
//! - **Objects**: each object lights up the cells whose centre is near its box centre, at every
//!   level, with a score that falls off from the peak: several candidates per object, spread
//!   over levels, that NMS must merge into one — as a real GFL head does. Vehicles also score a
//!   second vehicle class (car vs truck), so class-wise NMS sees overlapping boxes of
//!   different classes.
//! - **Box bins** of an object's cells are a peaked distribution around the true side distance
//!   (in strides), so the softmax expectation gives boxes that overlap the object's.
//! - **False positives**: a few isolated cells just above threshold for random classes (the
//!   "bird on litter" of the reference frame).

use crate::Rng;
use xueliang_analyzer::detector::postprocess::LevelOutput;
use xueliang_analyzer::model::ModelSpec;

/// One image's outputs, level by level, in `spec.levels` order.
#[derive(Debug, Clone)]
pub struct HeadOutputs {
    pub cls: Vec<Vec<f32>>,
    pub reg: Vec<Vec<f32>>,
}

impl HeadOutputs {
    /// The borrowed view `decode` takes.
    pub fn levels(&self) -> Vec<LevelOutput<'_>> {
        self.cls
            .iter()
            .zip(&self.reg)
            .map(|(cls, reg)| LevelOutput { cls, reg })
            .collect()
    }
}

/// COCO ids used for the objects: person, bicycle, car, motorcycle, bus, truck.
const PERSON: u16 = 0;
const CAR: u16 = 2;
const TRUCK: u16 = 7;

/// Head outputs for a frame with `objects` objects (60 % persons, the rest mostly cars) and
/// `objects / 4 + 1` false positives, in network-input (416 × 416) coordinates.
pub fn synthetic_head(spec: &ModelSpec, objects: usize, seed: u64) -> HeadOutputs {
    let mut rng = Rng::new(seed);
    let nc = spec.num_classes;
    let bins = spec.reg_max + 1;
    let [in_w, in_h] = spec.input_size.map(f64::from);
    let mut cls: Vec<Vec<f32>> = Vec::new();
    let mut reg: Vec<Vec<f32>> = Vec::new();
    for level in &spec.levels {
        let cells = (level.grid[0] * level.grid[1]) as usize;
        cls.push(
            (0..cells * nc)
                .map(|_| (rng.unit().powi(3) * 0.2) as f32)
                .collect(),
        );
        reg.push(
            (0..cells * 4 * bins)
                .map(|_| rng.range(-3.0, 3.0) as f32)
                .collect(),
        );
    }

    for _ in 0..objects {
        let roll = rng.unit();
        let (class, alt, w, h) = if roll < 0.6 {
            let h = rng.range(45.0, 140.0);
            (PERSON, None, h * rng.range(0.3, 0.45), h)
        } else if roll < 0.9 {
            let h = rng.range(35.0, 90.0);
            (CAR, Some(TRUCK), h * rng.range(1.4, 2.2), h)
        } else {
            let h = rng.range(50.0, 110.0);
            (TRUCK, Some(CAR), h * rng.range(1.6, 2.6), h)
        };
        let cx = rng.range(w / 2.0, in_w - w / 2.0);
        let cy = rng.range(h / 2.0, in_h - h / 2.0);
        let peak = rng.range(0.5, 0.88);
        for (li, level) in spec.levels.iter().enumerate() {
            let s = f64::from(level.stride);
            let n = level.grid[0] as usize;
            let rows = level.grid[1] as usize;
            for row in 0..rows {
                for col in 0..n {
                    let (px, py) = ((col as f64 + 0.5) * s, (row as f64 + 0.5) * s);
                    // Normalised distance from the box centre; the central 40 % of each axis
                    // (plus the cell holding the centre, for small objects at coarse levels).
                    let (dx, dy) = ((px - cx) / (0.2 * w), (py - cy) / (0.2 * h));
                    let d2 = dx * dx + dy * dy;
                    let holds_centre = (px - cx).abs() <= s / 2.0 && (py - cy).abs() <= s / 2.0;
                    if d2 > 1.0 && !holds_centre {
                        continue;
                    }
                    let cell = row * n + col;
                    let score = (peak * (1.0 - 0.5 * d2.min(1.0))) as f32;
                    let scores = &mut cls[li][cell * nc..(cell + 1) * nc];
                    scores[usize::from(class)] = scores[usize::from(class)].max(score);
                    if let Some(alt) = alt {
                        let a = &mut scores[usize::from(alt)];
                        *a = a.max(score * 0.7);
                    }
                    // Side distances in strides, as the head regresses them.
                    let sides = [
                        (px - (cx - w / 2.0)) / s,
                        (py - (cy - h / 2.0)) / s,
                        ((cx + w / 2.0) - px) / s,
                        ((cy + h / 2.0) - py) / s,
                    ];
                    let logits = &mut reg[li][cell * 4 * bins..(cell + 1) * 4 * bins];
                    for (side, &t) in sides.iter().enumerate() {
                        let t = t.clamp(0.0, spec.reg_max as f64);
                        for k in 0..bins {
                            let off = k as f64 - t;
                            logits[side * bins + k] =
                                (4.0 - 2.0 * off * off + rng.range(-0.3, 0.3)) as f32;
                        }
                    }
                }
            }
        }
    }

    for _ in 0..objects / 4 + 1 {
        let li = rng.below(spec.levels.len());
        let cells = cls[li].len() / nc;
        let cell = rng.below(cells);
        let class = rng.below(nc);
        cls[li][cell * nc + class] = rng.range(0.36, 0.46) as f32;
    }
    HeadOutputs { cls, reg }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xueliang_analyzer::detector::postprocess::{
        Candidate, DecodeParams, collect_candidates, decode,
    };
    use xueliang_analyzer::model::builtin_manifest;

    #[test]
    fn shapes_follow_the_manifest() {
        let spec = builtin_manifest("nanodet-m-416").unwrap();
        let head = synthetic_head(&spec, 8, 1);
        assert_eq!(head.cls.len(), 3);
        let cells: Vec<usize> = head.cls.iter().map(|c| c.len() / 80).collect();
        assert_eq!(cells, [2704, 676, 169]);
        assert!(head.reg.iter().zip(&cells).all(|(r, c)| r.len() == c * 44));
    }

    #[test]
    fn nms_has_real_work_and_keeps_about_one_box_per_object() {
        let spec = builtin_manifest("nanodet-m-416").unwrap();
        for (objects, seed) in [(8, 1), (40, 2)] {
            let head = synthetic_head(&spec, objects, seed);
            let mut cands: Vec<Candidate> = Vec::new();
            collect_candidates(&spec, &head.levels(), spec.score_threshold, &mut cands);
            let params = DecodeParams {
                score_threshold: spec.score_threshold,
                nms_iou: spec.nms_iou,
                max_detections: 100,
            };
            let dets = decode(&spec, &head.levels(), &params, [768, 576], &mut Vec::new());
            // Several candidates per object before NMS; roughly one per object (plus the
            // vehicles' second class and the false positives) after.
            assert!(
                cands.len() >= 4 * objects,
                "{objects} objects: only {} candidates",
                cands.len()
            );
            assert!(
                dets.len() >= objects / 2 && dets.len() <= 2 * objects + objects / 4 + 1,
                "{objects} objects: {} detections from {} candidates",
                dets.len(),
                cands.len()
            );
        }
    }
}
