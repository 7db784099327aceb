//! Network output → detections: GFL (NanoDet) box decoding, score threshold, class-wise NMS,
//! boxes scaled back to the source frame.
//!
//! Design decisions:
//! - **Scores first, boxes only where needed.** The class scores are already sigmoid; a cell
//!   is decoded (4 softmaxes over `reg_max + 1` bins) only when one of its classes clears the
//!   threshold — a few dozen of the 3,549 cells on a typical frame.
//! - **Every (cell, class) pair above the threshold is a candidate**, as in the reference
//!   implementation; a cell can hold a person and a backpack.
//! - **Boxes are clipped to the network input, then scaled** to the frame (the input is a plain
//!   stretch, so x and y scale independently).
//! - **Greedy NMS per class**, highest score first; a box is suppressed when its IoU with a
//!   kept box of the same class is *greater* than the threshold. The result is sorted by score
//!   (ties: class) and capped at `max_detections`.

use crate::model::ModelSpec;
use crate::types::Detection;

/// Thresholds for one decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeParams {
    pub score_threshold: f32,
    pub nms_iou: f32,
    /// Keep at most this many detections per frame (after NMS, best first).
    pub max_detections: usize,
}

/// One image's outputs of one head level: `cls` is `[cells, num_classes]`, `reg` is
/// `[cells, 4 * (reg_max + 1)]`, both row-major.
#[derive(Debug, Clone, Copy)]
pub struct LevelOutput<'a> {
    pub cls: &'a [f32],
    pub reg: &'a [f32],
}

/// A detection in network-input coordinates, before NMS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub class: u16,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// Decodes one image. `levels` follows `spec.levels`; `frame_size` is the source `[w, h]`.
/// `scratch` is reused between calls to avoid allocating per frame.
pub fn decode(
    spec: &ModelSpec,
    levels: &[LevelOutput<'_>],
    params: &DecodeParams,
    frame_size: [u32; 2],
    scratch: &mut Vec<Candidate>,
) -> Vec<Detection> {
    scratch.clear();
    collect_candidates(spec, levels, params.score_threshold, scratch);
    nms_in_place(scratch, params.nms_iou);
    scratch.truncate(params.max_detections);
    let [in_w, in_h] = spec.input_size.map(|v| v as f32);
    let sx = frame_size[0] as f32 / in_w;
    let sy = frame_size[1] as f32 / in_h;
    scratch
        .iter()
        .map(|c| Detection {
            class: c.class,
            score: c.score,
            bbox: [
                c.bbox[0] * sx,
                c.bbox[1] * sy,
                c.bbox[2] * sx,
                c.bbox[3] * sy,
            ],
        })
        .collect()
}

/// Appends every (cell, class) with score ≥ `threshold`, box decoded and clipped to the input.
pub fn collect_candidates(
    spec: &ModelSpec,
    levels: &[LevelOutput<'_>],
    threshold: f32,
    out: &mut Vec<Candidate>,
) {
    assert_eq!(levels.len(), spec.levels.len(), "one output pair per level");
    let nc = spec.num_classes;
    let bins = spec.reg_max + 1;
    let [in_w, in_h] = spec.input_size.map(|v| v as f32);
    for (level, out_l) in spec.levels.iter().zip(levels) {
        let n = level.grid[0] as usize;
        let cells = n * level.grid[1] as usize;
        assert_eq!(out_l.cls.len(), cells * nc, "class output size");
        assert_eq!(out_l.reg.len(), cells * 4 * bins, "box output size");
        let s = level.stride as f32;
        for (cell, scores) in out_l.cls.chunks_exact(nc).enumerate() {
            // Cheap rejection first: most cells have no class near the threshold.
            if !scores.iter().any(|&p| p >= threshold) {
                continue;
            }
            let cx = ((cell % n) as f32 + spec.center_offset) * s;
            let cy = ((cell / n) as f32 + spec.center_offset) * s;
            let d = side_distances(&out_l.reg[cell * 4 * bins..][..4 * bins], bins);
            let bbox = [
                (cx - d[0] * s).clamp(0.0, in_w),
                (cy - d[1] * s).clamp(0.0, in_h),
                (cx + d[2] * s).clamp(0.0, in_w),
                (cy + d[3] * s).clamp(0.0, in_h),
            ];
            for (class, &score) in scores.iter().enumerate() {
                if score >= threshold {
                    out.push(Candidate {
                        class: class as u16,
                        score,
                        bbox,
                    });
                }
            }
        }
    }
}

/// The four side distances (left, top, right, bottom) in grid units: the expectation of the
/// softmax over each side's bins.
pub fn side_distances(reg: &[f32], bins: usize) -> [f32; 4] {
    let mut d = [0.0f32; 4];
    for (side, logits) in reg.chunks_exact(bins).take(4).enumerate() {
        let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (mut sum, mut weighted) = (0.0f32, 0.0f32);
        for (k, &l) in logits.iter().enumerate() {
            let e = (l - m).exp();
            sum += e;
            weighted += e * k as f32;
        }
        d[side] = weighted / sum;
    }
    d
}

/// Intersection over union of two `[x1, y1, x2, y2]` boxes (0 when both are empty).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Class-wise greedy NMS. Leaves the kept candidates in `c`, best score first (ties: lower
/// class first).
pub fn nms_in_place(c: &mut Vec<Candidate>, iou_threshold: f32) {
    // Group by class, best first within a class; then suppress within each group.
    c.sort_by(|a, b| a.class.cmp(&b.class).then(b.score.total_cmp(&a.score)));
    let mut kept = 0;
    let mut group_start = 0;
    let mut class = None;
    for i in 0..c.len() {
        let cand = c[i];
        if class != Some(cand.class) {
            class = Some(cand.class);
            group_start = kept;
        }
        // `kept <= i`, so compacting in place never overwrites an unread candidate.
        let suppressed = c[group_start..kept]
            .iter()
            .any(|k| iou(&k.bbox, &cand.bbox) > iou_threshold);
        if !suppressed {
            c[kept] = cand;
            kept += 1;
        }
    }
    c.truncate(kept);
    c.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.class.cmp(&b.class)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HeadLevel, ModelSpec};

    /// A one-level head: 32x32 input, stride 8 (4x4 grid), 3 classes, 4 bins per side.
    fn tiny_spec() -> ModelSpec {
        ModelSpec {
            name: "tiny".into(),
            version: "0".into(),
            file: "model.onnx".into(),
            input_name: "images".into(),
            input_size: [32, 32],
            mean: [0.0; 3],
            std: [1.0; 3],
            num_classes: 3,
            reg_max: 3,
            center_offset: 0.5,
            levels: vec![HeadLevel {
                stride: 8,
                grid: [4, 4],
                cls_output: "cls".into(),
                box_output: "box".into(),
            }],
            score_threshold: 0.35,
            nms_iou: 0.5,
            labels: vec![],
        }
    }

    /// Bin logits that put (almost) all the mass on bin `k` for every side.
    fn one_hot_sides(k: [usize; 4], bins: usize) -> Vec<f32> {
        let mut v = vec![-30.0; 4 * bins];
        for (side, &k) in k.iter().enumerate() {
            v[side * bins + k] = 30.0;
        }
        v
    }

    fn params() -> DecodeParams {
        DecodeParams {
            score_threshold: 0.35,
            nms_iou: 0.5,
            max_detections: 100,
        }
    }

    #[test]
    fn softmax_expectation_of_the_bins() {
        // Uniform logits over 0..=3 → mean 1.5; one-hot → the bin index.
        let d = side_distances(&[0.0; 16], 4);
        assert!(d.iter().all(|v| (v - 1.5).abs() < 1e-6), "{d:?}");
        let d = side_distances(&one_hot_sides([0, 1, 2, 3], 4), 4);
        for (got, want) in d.iter().zip([0.0, 1.0, 2.0, 3.0]) {
            assert!((got - want).abs() < 1e-5, "{d:?}");
        }
        // Two equal bins 1 and 3 → 2.
        let mut v = vec![-30.0; 16];
        v[1] = 5.0;
        v[3] = 5.0;
        assert!((side_distances(&v, 4)[0] - 2.0).abs() < 1e-5);
    }

    #[test]
    fn decodes_a_cell_with_the_half_cell_offset() {
        let spec = tiny_spec();
        let (cells, nc, bins) = (16, 3, 4);
        let mut cls = vec![0.0; cells * nc];
        let mut reg = vec![0.0; cells * 4 * bins];
        // Cell 6 = column 2, row 1 → centre ((2 + 0.5) * 8, (1 + 0.5) * 8) = (20, 12).
        cls[6 * nc + 2] = 0.9;
        reg[6 * 4 * bins..7 * 4 * bins].copy_from_slice(&one_hot_sides([1, 1, 0, 2], bins));
        let out = decode(
            &spec,
            &[LevelOutput {
                cls: &cls,
                reg: &reg,
            }],
            &params(),
            [32, 32],
            &mut Vec::new(),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class, 2);
        assert_eq!(out[0].score, 0.9);
        let want = [20.0 - 8.0, 12.0 - 8.0, 20.0, 12.0 + 16.0];
        for (g, w) in out[0].bbox.iter().zip(want) {
            assert!((g - w).abs() < 1e-3, "{:?} vs {want:?}", out[0].bbox);
        }
    }

    #[test]
    fn boxes_are_clipped_to_the_input_then_scaled_to_the_frame() {
        let spec = tiny_spec();
        let (nc, bins) = (3, 4);
        let mut cls = vec![0.0; 16 * nc];
        let mut reg = vec![0.0; 16 * 4 * bins];
        // Cell 0, centre (4, 4): left/top of 3 strides = -20 → clipped to 0.
        cls[0] = 0.8;
        reg[..4 * bins].copy_from_slice(&one_hot_sides([3, 3, 1, 1], bins));
        let out = decode(
            &spec,
            &[LevelOutput {
                cls: &cls,
                reg: &reg,
            }],
            &params(),
            [64, 320],
            &mut Vec::new(),
        );
        // In input px: [0, 0, 12, 12]; frame is 2x wider and 10x taller.
        let b = out[0].bbox;
        assert!(b[0].abs() < 1e-3 && b[1].abs() < 1e-3, "{b:?}");
        assert!(
            (b[2] - 24.0).abs() < 1e-2 && (b[3] - 120.0).abs() < 1e-2,
            "{b:?}"
        );
    }

    #[test]
    fn threshold_is_inclusive_and_every_class_of_a_cell_counts() {
        let spec = tiny_spec();
        let mut cls = vec![0.0; 16 * 3];
        cls[3] = 0.35; // cell 1, class 0: exactly at the threshold
        cls[4] = 0.5; // cell 1, class 1
        cls[5] = 0.3499; // cell 1, class 2: below
        let reg = vec![0.0; 16 * 16];
        let out = decode(
            &spec,
            &[LevelOutput {
                cls: &cls,
                reg: &reg,
            }],
            &params(),
            [32, 32],
            &mut Vec::new(),
        );
        let classes: Vec<u16> = out.iter().map(|d| d.class).collect();
        assert_eq!(classes, [1, 0]);
    }

    fn cand(class: u16, score: f32, bbox: [f32; 4]) -> Candidate {
        Candidate { class, score, bbox }
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(iou(&a, &[10.0, 0.0, 20.0, 10.0]), 0.0);
        // Half overlap: inter 50, union 150.
        assert!((iou(&a, &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0; 4], &[0.0; 4]), 0.0);
    }

    #[test]
    fn nms_suppresses_within_a_class_only() {
        let mut c = vec![
            cand(0, 0.6, [0.0, 0.0, 10.0, 10.0]),
            cand(0, 0.9, [1.0, 0.0, 11.0, 10.0]), // IoU 0.82 with the first: wins
            cand(7, 0.7, [0.0, 0.0, 10.0, 10.0]), // other class, same place: kept
            cand(0, 0.5, [50.0, 50.0, 60.0, 60.0]), // far away: kept
            cand(7, 0.4, [0.5, 0.0, 10.5, 10.0]), // suppressed by the 0.7 truck
        ];
        nms_in_place(&mut c, 0.5);
        let got: Vec<(u16, f32)> = c.iter().map(|d| (d.class, d.score)).collect();
        assert_eq!(got, [(0, 0.9), (7, 0.7), (0, 0.5)]);
    }

    #[test]
    fn nms_keeps_a_box_whose_iou_equals_the_threshold() {
        // IoU exactly 1/3 with threshold 1/3: "greater than" suppresses, equal does not.
        let mut c = vec![
            cand(1, 0.9, [0.0, 0.0, 10.0, 10.0]),
            cand(1, 0.8, [5.0, 0.0, 15.0, 10.0]),
        ];
        let t = iou(&c[0].bbox, &c[1].bbox);
        nms_in_place(&mut c, t);
        assert_eq!(c.len(), 2);
        nms_in_place(&mut c, t - 1e-4);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn nms_is_greedy_not_transitive() {
        // B overlaps A and C; A suppresses B, so C (which only overlaps B) survives.
        let mut c = vec![
            cand(0, 0.9, [0.0, 0.0, 10.0, 10.0]),
            cand(0, 0.8, [4.0, 0.0, 14.0, 10.0]),
            cand(0, 0.7, [8.0, 0.0, 18.0, 10.0]),
        ];
        nms_in_place(&mut c, 0.3);
        let scores: Vec<f32> = c.iter().map(|d| d.score).collect();
        assert_eq!(scores, [0.9, 0.7]);
    }

    #[test]
    fn max_detections_keeps_the_best() {
        let spec = tiny_spec();
        let mut cls = vec![0.0; 16 * 3];
        for cell in 0..16 {
            cls[cell * 3] = 0.4 + cell as f32 * 0.01;
        }
        // Narrow boxes (1 bin each side) so the 16 cells do not overlap.
        let reg: Vec<f32> = (0..16)
            .flat_map(|_| one_hot_sides([0, 0, 0, 0], 4))
            .collect();
        let mut p = params();
        p.max_detections = 3;
        let out = decode(
            &spec,
            &[LevelOutput {
                cls: &cls,
                reg: &reg,
            }],
            &p,
            [32, 32],
            &mut Vec::new(),
        );
        let cells: Vec<u32> = out
            .iter()
            .map(|d| ((d.score - 0.4) * 100.0).round() as u32)
            .collect();
        assert_eq!(cells, [15, 14, 13]);
    }
}
