//! Multi-object tracking for one camera, ByteTrack-style, at 0.5–5 samples per second.
//!
//! Design decisions:
//! - **ByteTrack's two-stage association.** Detections at or above `high_score` are matched
//!   first against every confirmed track (seen now or coasting); the leftovers among the tracks
//!   that were seen at the previous sample then get a second chance against the low-score
//!   detections (`low_score..high_score`), which is how a partly occluded pedestrian keeps its id
//!   when the detector's confidence dips. Tentative tracks come last, against what remains of
//!   the high-score detections, so an established track is never robbed by a new one. Unmatched
//!   high-score detections start tentative tracks; a tentative track that misses once is dropped.
//! - **Time, not frames.** Every duration is in seconds of the timestamps passed to
//!   [`Tracker::update`]: the motion model predicts over the elapsed time (see [`kalman`]), and a
//!   confirmed track that is not seen is kept for `max_lost` seconds whatever the sample rate.
//! - **Cost: IoU, with a distance fallback for low sample rates.** At 30 fps (ByteTrack's world)
//!   consecutive boxes overlap; at 0.5 fps a pedestrian walks more than a body width between
//!   samples, and a new track has no velocity yet, so its predicted box may not overlap the next
//!   detection at all. A pair therefore costs `1 − IoU` when the predicted box and the detection
//!   overlap by at least `iou_min`, and otherwise `1 + m²/gate` where `m` is the Mahalanobis
//!   distance of the box centres under the filter's current uncertainty (which grows with the
//!   elapsed time and shrinks as the velocity is learnt, with a floor of `gate_floor` box
//!   heights so that a pedestrian who stops or turns between samples is not rejected),
//!   provided `m² ≤ gate` and the box height changed by less than `max_size_ratio`. Any
//!   overlapping pair is thus cheaper than any distant one.
//! - **Leaving the picture.** When the frame size is known ([`Tracker::set_frame_size`]), a
//!   coasting track whose predicted centre has left the picture is dropped at once; otherwise,
//!   with the wide gate a coasting track gets, it would take over the next person entering at
//!   that edge (seen on `vtest.avi`).
//! - **Optimal assignment.** A tiny Hungarian solver ([`assign`]) rather than greedy matching:
//!   when two pedestrians cross, greedy takes the single best pair and can force the other into
//!   a swap.
//! - **Classes.** Pairs of different classes are forbidden, except that car, bus and truck are
//!   one group (the detector flips a parked van between car and truck from frame to frame, and a
//!   stationary-vehicle rule must not lose it). For the same reason, a vehicle box that a
//!   better-scored box of another vehicle class covers (IoU > 0.7) is dropped: the detector's
//!   NMS is per class. The class reported for a track is the one with the highest summed score
//!   among its detections.
//! - **Ids** are handed out when a track is confirmed (`min_hits` detections), from 1 upwards,
//!   never reused for the tracker's lifetime; tentative tracks that die leave no gap.
//! - **Output** is the confirmed tracks seen in this sample, each with the detection's own box
//!   and score (what the detector saw, so evidence boxes match the snapshot), not the filtered
//!   state. Coasting tracks are not reported: rules tolerate short absences themselves.
//! - **Hot path.** All per-update buffers (cost matrix, index lists, assignment workspace) live in
//!   the tracker and are reused; [`Tracker::update_into`] allocates nothing in steady state.

mod assign;
pub(crate) mod kalman;
pub mod replay;

use crate::types::{Detection, TrackedObject};
use assign::{Assigner, FORBIDDEN};
use kalman::Axis;
use std::time::Duration;

/// Tuning of a [`Tracker`]. `Default` suits a fixed street camera sampled at 0.5–5 fps with
/// NanoDet-like scores.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// Detections at or above this score take part in the first association stage.
    pub high_score: f32,
    /// Detections below this score are ignored; those in `low_score..high_score` can only extend
    /// a track that was seen at the previous sample.
    pub low_score: f32,
    /// An unmatched detection at or above this score starts a tentative track.
    pub new_track_score: f32,
    /// Detections a track needs before it is confirmed (gets an id and is reported).
    pub min_hits: u32,
    /// A confirmed track not seen for longer than this is dropped.
    pub max_lost: Duration,
    /// Least IoU between a predicted box and a detection for the overlap cost to apply.
    pub iou_min: f32,
    /// Gate on the squared Mahalanobis distance of box centres (2 degrees of freedom; 9.21 is
    /// the 99 % quantile) for pairs that do not overlap enough.
    pub gate_chi2: f32,
    /// Largest ratio between the predicted and detected box heights (either way) for a
    /// distance-gated pair.
    pub max_size_ratio: f32,
    /// Treat car, bus and truck as one class when matching.
    pub merge_vehicle_classes: bool,
    /// Motion model noise, in box heights (or widths, for horizontal axes).
    pub motion: MotionNoise,
}

/// Noise of the constant-velocity model, relative to the box size so that one setting fits
/// near and far objects. Units: box sizes, box sizes per second, box sizes per s^1.5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionNoise {
    /// Standard deviation of a detected box's centre and size.
    pub measurement: f64,
    /// Prior standard deviation of a new track's centre velocity (a pedestrian walks at roughly
    /// 0.8 body heights per second).
    pub initial_velocity: f64,
    /// Prior standard deviation of a new track's size velocity.
    pub initial_size_velocity: f64,
    /// Square root of the centre's acceleration noise density.
    pub acceleration: f64,
    /// Square root of the size's acceleration noise density.
    pub size_acceleration: f64,
    /// Least standard deviation, in box heights, assumed for a predicted centre when gating by
    /// distance: the constant-velocity model cannot foresee a pedestrian stopping or turning,
    /// and after many steady samples the filter would otherwise reject them.
    pub gate_floor: f64,
}

impl Default for MotionNoise {
    fn default() -> Self {
        MotionNoise {
            measurement: 0.05,
            initial_velocity: 0.6,
            initial_size_velocity: 0.1,
            acceleration: 0.4,
            size_acceleration: 0.05,
            gate_floor: 0.2,
        }
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            // NanoDet-m gives 0.7–0.8 to clear pedestrians but ~0.5 to vehicles on vtest.avi,
            // so the high/new thresholds sit below ByteTrack's 0.6.
            high_score: 0.45,
            low_score: 0.2,
            new_track_score: 0.45,
            min_hits: 2,
            // At 0.5 fps one missed sample means 4 s unseen by the next chance to match.
            max_lost: Duration::from_secs(5),
            iou_min: 0.2,
            gate_chi2: 9.21,
            max_size_ratio: 1.3,
            merge_vehicle_classes: true,
            motion: MotionNoise::default(),
        }
    }
}

const CAR: u16 = 2;
const BUS: u16 = 5;
const TRUCK: u16 = 7;
/// Distinct classes remembered per track for the class vote; more is never needed in practice,
/// and a fixed array keeps tracks free of heap allocations.
const VOTES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Tentative,
    Confirmed,
}

#[derive(Debug, Clone)]
struct Track {
    /// 0 until confirmed.
    id: u64,
    stage: Stage,
    /// cx, cy, w, h.
    kf: [Axis; 4],
    votes: [(u16, f32); VOTES],
    hits: u32,
    /// Time (s) of the last matched detection.
    last_seen: f64,
    /// Whether the track was matched at the previous update (ByteTrack's "tracked" state).
    seen_last_update: bool,
    matched_now: bool,
    last_det: Detection,
}

impl Track {
    fn new(d: &Detection, now: f64, m: &MotionNoise) -> Track {
        let [cx, cy, w, h] = cxcywh(&d.bbox);
        let (sw, sh) = (w.max(1.0), h.max(1.0));
        let mut votes = [(u16::MAX, 0.0); VOTES];
        votes[0] = (d.class, d.score);
        Track {
            id: 0,
            stage: Stage::Tentative,
            kf: [
                Axis::new(cx, 2.0 * m.measurement * sw, m.initial_velocity * sh),
                Axis::new(cy, 2.0 * m.measurement * sh, m.initial_velocity * sh),
                Axis::new(w, 2.0 * m.measurement * sw, m.initial_size_velocity * sw),
                Axis::new(h, 2.0 * m.measurement * sh, m.initial_size_velocity * sh),
            ],
            votes,
            hits: 1,
            last_seen: now,
            seen_last_update: true,
            matched_now: true,
            last_det: *d,
        }
    }

    /// Box size used to scale the noise: (horizontal, vertical), at least one pixel.
    fn scale(&self) -> (f64, f64) {
        (self.kf[2].pos.max(1.0), self.kf[3].pos.max(1.0))
    }

    fn predict(&mut self, dt: f64, m: &MotionNoise) {
        let (sw, sh) = self.scale();
        // Pedestrians and vehicles move mostly horizontally in the image but at speeds that
        // scale with their height (distance to the camera), so both centre axes use the height.
        let q_c = (m.acceleration * sh).powi(2);
        self.kf[0].predict(dt, q_c);
        self.kf[1].predict(dt, q_c);
        self.kf[2].predict(dt, (m.size_acceleration * sw).powi(2));
        self.kf[3].predict(dt, (m.size_acceleration * sh).powi(2));
        // A coasting box must not shrink to nothing.
        self.kf[2].pos = self.kf[2].pos.max(1.0);
        self.kf[3].pos = self.kf[3].pos.max(1.0);
    }

    fn update(&mut self, d: &Detection, now: f64, m: &MotionNoise) {
        let (sw, sh) = self.scale();
        let z = cxcywh(&d.bbox);
        let (rw, rh) = ((m.measurement * sw).powi(2), (m.measurement * sh).powi(2));
        self.kf[0].update(z[0], rw);
        self.kf[1].update(z[1], rh);
        self.kf[2].update(z[2], rw);
        self.kf[3].update(z[3], rh);
        self.vote(d.class, d.score);
        self.hits += 1;
        self.last_seen = now;
        self.matched_now = true;
        self.last_det = *d;
    }

    fn vote(&mut self, class: u16, score: f32) {
        if let Some(v) = self.votes.iter_mut().find(|v| v.0 == class) {
            v.1 += score;
        } else if let Some(v) = self
            .votes
            .iter_mut()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|v| v.1 < score)
        {
            *v = (class, score);
        }
    }

    fn class(&self) -> u16 {
        self.votes
            .iter()
            .filter(|v| v.0 != u16::MAX)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(self.last_det.class, |v| v.0)
    }

    fn predicted_box(&self) -> [f64; 4] {
        let [cx, cy, w, h] = [
            self.kf[0].pos,
            self.kf[1].pos,
            self.kf[2].pos,
            self.kf[3].pos,
        ];
        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
    }
}

fn cxcywh(b: &[f32; 4]) -> [f64; 4] {
    let [x1, y1, x2, y2] = b.map(f64::from);
    [(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1]
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Multi-object tracker for one camera. Feed it every analysed sample of that camera, in order.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    /// Time (s) of the previous update.
    last_at: Option<f64>,
    /// Picture size in pixels, when known.
    frame: Option<[f64; 2]>,
    // Reused scratch buffers.
    high: Vec<usize>,
    low: Vec<usize>,
    pool: Vec<usize>,
    cols: Vec<usize>,
    det_used: Vec<bool>,
    cost: Vec<f64>,
    matches: Vec<Option<usize>>,
    assigner: Assigner,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Tracker {
        Tracker {
            cfg,
            tracks: Vec::new(),
            next_id: 1,
            last_at: None,
            frame: None,
            high: Vec::new(),
            low: Vec::new(),
            pool: Vec::new(),
            cols: Vec::new(),
            det_used: Vec::new(),
            cost: Vec::new(),
            matches: Vec::new(),
            assigner: Assigner::default(),
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// Tells the tracker the picture size (source-frame pixels). Optional; when known, a
    /// coasting track predicted to have left the picture is dropped at once instead of
    /// lingering for `max_lost`, where it could be handed to the next person entering at
    /// the same edge.
    pub fn set_frame_size(&mut self, size: [u32; 2]) {
        self.frame = Some([f64::from(size[0]), f64::from(size[1])]);
    }

    /// Tracks held, confirmed or not, seen now or coasting (for metrics and tests).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Advances to `at` and associates `detections` (boxes in source-frame pixels). Returns the
    /// confirmed tracks seen in this sample. `at` is the sample's time on any clock that is
    /// monotonic for this camera (e.g. the frame's presentation time); only differences matter.
    pub fn update(&mut self, at: Duration, detections: &[Detection]) -> Vec<TrackedObject> {
        let mut out = Vec::new();
        self.update_into(at, detections, &mut out);
        out
    }

    /// [`update`](Self::update) writing into a caller-owned buffer (cleared first), so that the
    /// steady state allocates nothing.
    pub fn update_into(
        &mut self,
        at: Duration,
        detections: &[Detection],
        out: &mut Vec<TrackedObject>,
    ) {
        out.clear();
        let now = at.as_secs_f64();
        let m = self.cfg.motion;
        match self.last_at {
            // Time going back further than a track could survive means the stream restarted:
            // the old tracks' positions say nothing about the new timeline.
            Some(prev) if now < prev - self.cfg.max_lost.as_secs_f64() => {
                tracing::debug!(
                    back_s = prev - now,
                    "tracker clock went backwards; dropping tracks"
                );
                self.tracks.clear();
                self.last_at = None;
            }
            Some(prev) => {
                let dt = (now - prev).max(0.0);
                for t in &mut self.tracks {
                    t.predict(dt, &m);
                }
            }
            None => {}
        }
        // A small backwards step is treated as no time passing; keep the clock monotonic.
        let now = self.last_at.map_or(now, |p| now.max(p));
        self.last_at = Some(now);
        // Age out before matching: a track unseen for longer than `max_lost` must not be
        // revived by whatever now stands where it was.
        let max_lost = self.cfg.max_lost.as_secs_f64();
        let frame = self.frame;
        self.tracks.retain(|t| {
            let gone = !t.seen_last_update
                && frame.is_some_and(|[w, h]| {
                    let (cx, cy) = (t.kf[0].pos, t.kf[1].pos);
                    !(0.0..=w).contains(&cx) || !(0.0..=h).contains(&cy)
                });
            now - t.last_seen <= max_lost && !gone
        });
        for t in &mut self.tracks {
            t.matched_now = false;
        }

        self.high.clear();
        self.low.clear();
        for (i, d) in detections.iter().enumerate() {
            let [x1, y1, x2, y2] = d.bbox;
            let sane =
                d.bbox.iter().all(|v| v.is_finite()) && x2 > x1 && y2 > y1 && d.score.is_finite();
            if !sane || self.duplicate_vehicle(i, detections) {
                continue;
            }
            if d.score >= self.cfg.high_score {
                self.high.push(i);
            } else if d.score >= self.cfg.low_score {
                self.low.push(i);
            }
        }
        self.det_used.clear();
        self.det_used.resize(detections.len(), false);

        // Stage 1: confirmed tracks (seen last time or coasting) × high-score detections.
        self.pool.clear();
        self.pool
            .extend((0..self.tracks.len()).filter(|&i| self.tracks[i].stage == Stage::Confirmed));
        let high = std::mem::take(&mut self.high);
        self.associate(&high, detections, now);
        // Stage 2: confirmed tracks seen at the previous sample and still unmatched × low-score
        // detections (ByteTrack's recovery of occluded objects).
        self.pool.clear();
        self.pool.extend((0..self.tracks.len()).filter(|&i| {
            let t = &self.tracks[i];
            t.stage == Stage::Confirmed && !t.matched_now && t.seen_last_update
        }));
        let low = std::mem::take(&mut self.low);
        self.associate(&low, detections, now);
        self.low = low;
        // Stage 3: tentative tracks × the high-score detections nobody took.
        self.pool.clear();
        self.pool
            .extend((0..self.tracks.len()).filter(|&i| self.tracks[i].stage == Stage::Tentative));
        self.associate(&high, detections, now);

        // Confirm, drop tentative tracks that missed, and start new tracks.
        let min_hits = self.cfg.min_hits.max(1);
        let next_id = &mut self.next_id;
        self.tracks.retain_mut(|t| {
            t.seen_last_update = t.matched_now;
            match t.stage {
                Stage::Tentative if !t.matched_now => false,
                Stage::Tentative => {
                    if t.hits >= min_hits {
                        t.stage = Stage::Confirmed;
                        t.id = *next_id;
                        *next_id += 1;
                    }
                    true
                }
                Stage::Confirmed => true,
            }
        });
        for &i in &high {
            let d = &detections[i];
            if !self.det_used[i] && d.score >= self.cfg.new_track_score {
                let mut t = Track::new(d, now, &m);
                if min_hits <= 1 {
                    t.stage = Stage::Confirmed;
                    t.id = self.next_id;
                    self.next_id += 1;
                }
                self.tracks.push(t);
            }
        }
        self.high = high;

        for t in &self.tracks {
            if t.stage == Stage::Confirmed && t.matched_now {
                out.push(TrackedObject {
                    track_id: t.id,
                    class: t.class(),
                    score: t.last_det.score,
                    bbox: t.last_det.bbox,
                });
            }
        }
    }

    /// Whether detection `i` is a vehicle that a better-scored vehicle detection of another
    /// class already covers: the detector's NMS is per class, so a van often comes out as both
    /// a truck and a car, and with merged vehicle classes the second box would start a
    /// duplicate track.
    fn duplicate_vehicle(&self, i: usize, detections: &[Detection]) -> bool {
        let d = &detections[i];
        if !self.cfg.merge_vehicle_classes || !is_vehicle(d.class) {
            return false;
        }
        let b = d.bbox.map(f64::from);
        detections.iter().enumerate().any(|(j, o)| {
            j != i
                && is_vehicle(o.class)
                && o.class != d.class
                && (o.score > d.score || (o.score == d.score && j < i))
                && iou(&b, &o.bbox.map(f64::from)) > 0.7
        })
    }

    /// Matches the tracks in `self.pool` with the unused detections among `dets`.
    fn associate(&mut self, dets: &[usize], detections: &[Detection], now: f64) {
        self.cols.clear();
        self.cols
            .extend(dets.iter().copied().filter(|&d| !self.det_used[d]));
        let (rows, cols) = (self.pool.len(), self.cols.len());
        if rows == 0 || cols == 0 {
            return;
        }
        self.cost.clear();
        for &ti in &self.pool {
            let t = &self.tracks[ti];
            for &di in &self.cols {
                self.cost.push(pair_cost(&self.cfg, t, &detections[di]));
            }
        }
        self.assigner
            .solve(&self.cost, rows, cols, &mut self.matches);
        let m = self.cfg.motion;
        for r in 0..rows {
            let Some(c) = self.matches[r] else { continue };
            let di = self.cols[c];
            self.tracks[self.pool[r]].update(&detections[di], now, &m);
            self.det_used[di] = true;
        }
    }
}

fn is_vehicle(class: u16) -> bool {
    matches!(class, CAR | BUS | TRUCK)
}

fn classes_compatible(cfg: &TrackerConfig, a: u16, b: u16) -> bool {
    a == b || (cfg.merge_vehicle_classes && is_vehicle(a) && is_vehicle(b))
}

fn pair_cost(cfg: &TrackerConfig, t: &Track, d: &Detection) -> f64 {
    if !classes_compatible(cfg, t.class(), d.class) {
        return FORBIDDEN;
    }
    let pred = t.predicted_box();
    let det = d.bbox.map(f64::from);
    let overlap = iou(&pred, &det);
    if overlap >= f64::from(cfg.iou_min) {
        return 1.0 - overlap;
    }
    let ratio = (det[3] - det[1]) / (pred[3] - pred[1]);
    let max_ratio = f64::from(cfg.max_size_ratio);
    if !(1.0 / max_ratio..=max_ratio).contains(&ratio) {
        return FORBIDDEN;
    }
    let (sw, sh) = t.scale();
    let r = cfg.motion.measurement;
    let [dcx, dcy, _, _] = cxcywh(&d.bbox);
    let (ex, ey) = (dcx - t.kf[0].pos, dcy - t.kf[1].pos);
    // The floor keeps a well-established track (whose filter has become very sure of its
    // velocity) matchable when its object stops or turns between two sparse samples.
    let floor = (cfg.motion.gate_floor * sh).powi(2);
    let m2 = ex * ex / t.kf[0].innovation_var((r * sw).powi(2)).max(floor)
        + ey * ey / t.kf[1].innovation_var((r * sh).powi(2)).max(floor);
    let gate = f64::from(cfg.gate_chi2);
    if m2 <= gate {
        1.0 + m2 / gate
    } else {
        FORBIDDEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(x: f32, y: f32) -> Detection {
        Detection {
            class: 0,
            score: 0.8,
            bbox: [x, y, x + 40.0, y + 100.0],
        }
    }

    #[test]
    fn confirms_after_min_hits_and_numbers_from_one() {
        let mut tr = Tracker::new(TrackerConfig::default());
        assert!(
            tr.update(Duration::ZERO, &[person(100.0, 100.0)])
                .is_empty()
        );
        let out = tr.update(Duration::from_millis(200), &[person(104.0, 100.0)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].track_id, 1);
    }

    #[test]
    fn a_one_off_detection_leaves_no_id_gap() {
        let mut tr = Tracker::new(TrackerConfig::default());
        tr.update(Duration::ZERO, &[person(500.0, 100.0)]);
        tr.update(Duration::from_secs(1), &[person(100.0, 100.0)]);
        let out = tr.update(Duration::from_secs(2), &[person(110.0, 100.0)]);
        assert_eq!(out.iter().map(|o| o.track_id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn vehicles_keep_their_track_across_car_truck_flips() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let van = |class| Detection {
            class,
            score: 0.55,
            bbox: [300.0, 200.0, 420.0, 280.0],
        };
        let mut ids = Vec::new();
        for (i, class) in [CAR, TRUCK, CAR, TRUCK, TRUCK].into_iter().enumerate() {
            ids.extend(
                tr.update(Duration::from_secs(i as u64), &[van(class)])
                    .iter()
                    .map(|o| o.track_id),
            );
        }
        assert_eq!(ids, vec![1; 4]);
        let strict = TrackerConfig {
            merge_vehicle_classes: false,
            ..TrackerConfig::default()
        };
        let mut tr = Tracker::new(strict);
        tr.update(Duration::ZERO, &[van(CAR)]);
        tr.update(Duration::from_secs(1), &[van(CAR)]);
        let out = tr.update(Duration::from_secs(2), &[van(TRUCK)]);
        assert!(
            out.is_empty(),
            "a truck must not continue a car track: {out:?}"
        );
    }

    #[test]
    fn stream_restart_drops_old_tracks_but_not_the_id_counter() {
        let mut tr = Tracker::new(TrackerConfig::default());
        tr.update(Duration::from_secs(100), &[person(100.0, 100.0)]);
        tr.update(Duration::from_secs(101), &[person(100.0, 100.0)]);
        tr.update(Duration::from_secs(1), &[person(100.0, 100.0)]);
        let out = tr.update(Duration::from_secs(2), &[person(100.0, 100.0)]);
        assert_eq!(out[0].track_id, 2);
    }

    #[test]
    fn a_track_that_left_the_picture_is_not_handed_to_the_next_entrant() {
        let run = |frame: Option<[u32; 2]>| {
            let mut tr = Tracker::new(TrackerConfig::default());
            if let Some(f) = frame {
                tr.set_frame_size(f);
            }
            let mut ids = Vec::new();
            // Walks right at 60 px/s and out of an 800 px wide picture at ~12 s…
            for s in 0..12u64 {
                let x = 60.0 * s as f32 + 80.0;
                ids.extend(
                    tr.update(Duration::from_secs(s), &[person(x, 300.0)])
                        .iter()
                        .map(|o| o.track_id),
                );
            }
            tr.update(Duration::from_secs(12), &[]);
            // …and 2 s later someone steps in at the same edge, walking left.
            for s in 14..18u64 {
                let x = 760.0 - 60.0 * (s - 14) as f32;
                ids.extend(
                    tr.update(Duration::from_secs(s), &[person(x, 300.0)])
                        .iter()
                        .map(|o| o.track_id),
                );
            }
            ids.dedup();
            ids
        };
        assert_eq!(run(Some([800, 600])), vec![1, 2]);
        // Without the frame size the coasting track is still within max_lost and takes over:
        // the reason set_frame_size exists.
        assert_eq!(run(None), vec![1]);
    }

    #[test]
    fn one_van_detected_as_truck_and_car_gives_one_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let both = [
            Detection {
                class: TRUCK,
                score: 0.55,
                bbox: [650.0, 43.0, 724.0, 98.0],
            },
            Detection {
                class: CAR,
                score: 0.50,
                bbox: [652.0, 44.0, 723.0, 99.0],
            },
        ];
        for s in 0..5 {
            tr.update(Duration::from_secs(s), &both);
        }
        assert_eq!(tr.live_tracks(), 1);
        assert_eq!(tr.update(Duration::from_secs(5), &both)[0].class, TRUCK);
    }
}
