//! Criterion micro-benchmarks of the analyzer's per-frame hot paths, on the synthetic inputs of
//! `xueliang_microbench` (see its module docs for what makes them realistic):
//!
//! - `preprocess`: `Resizer::run`, a frame → the 416×416 NCHW tensor slot: BGR (768×576 like
//!   `vtest.avi`, 1080p, and the same-size fast path) and the decoder's own I420 (360p, 576p,
//!   1080p: resize and colour conversion fused, what the live pipeline runs).
//! - `postprocess`: GFL decoding and class-wise NMS of NanoDet-m 416's three-level head output
//!   (3,549 cells × 80 classes): the whole `decode`, and its two halves on their own.
//! - `tracker`: one `Tracker::update_into` of a street with 20 (and 60) moving objects at 2 fps.
//! - `rules`: one `RuleEngine::evaluate` of six rules over that street's tracked objects.
//!
//! The stateful stages (tracker, rules) are timed with `iter_custom` over a long pre-generated
//! sequence, one sample per iteration, so each update sees the steady state (tracks with
//! history, rules mid-episode) rather than a cold start; when the sequence runs out a fresh
//! instance is warmed up outside the timing.
//!
//! Run: `cargo bench -p xueliang-microbench --bench analyzer`.

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use xueliang_analyzer::detector::PictureRef;
use xueliang_analyzer::detector::postprocess::{
    DecodeParams, collect_candidates, decode, nms_in_place,
};
use xueliang_analyzer::detector::preprocess::Resizer;
use xueliang_analyzer::model::{ModelSpec, builtin_manifest};
use xueliang_analyzer::rules::RuleEngine;
use xueliang_analyzer::tracker::{Tracker, TrackerConfig};
use xueliang_analyzer::types::Observation;
use xueliang_microbench::head::synthetic_head;
use xueliang_microbench::scene::{Scene, camera_rules, observations, street};
use xueliang_microbench::{bgr_frame, i420_frame};

/// 2 fps: the middle of the analyzer's 0.5–5 samples per second.
const PERIOD: Duration = Duration::from_millis(500);
/// Samples in the tracker/rules sequences (about 17 minutes of street).
const SAMPLES: usize = 2000;
/// Samples run untimed on a fresh tracker or engine before timing, so tracks are confirmed.
const WARM: usize = 20;

fn spec() -> ModelSpec {
    builtin_manifest("nanodet-m-416").expect("the compiled-in NanoDet manifest parses")
}

fn preprocess(c: &mut Criterion) {
    let spec = spec();
    let mut g = c.benchmark_group("preprocess");
    for (w, h) in [(768, 576), (1920, 1080), (416, 416)] {
        let data = bgr_frame(w, h, 1);
        let frame = PictureRef::bgr(w, h, &data);
        frame.check().expect("the bench frame is well-formed");
        let mut resizer = Resizer::new(&spec);
        let mut out = vec![0.0f32; resizer.slot_len()];
        g.bench_function(BenchmarkId::new("resizer_run", format!("{w}x{h}")), |b| {
            b.iter(|| resizer.run(black_box(&frame), black_box(&mut out)))
        });
    }
    for (w, h) in [(640, 360), (768, 576), (1920, 1080)] {
        let planes = i420_frame(w, h, 1);
        let frame = planes.view();
        frame.check().expect("the bench frame is well-formed");
        let mut resizer = Resizer::new(&spec);
        let mut out = vec![0.0f32; resizer.slot_len()];
        g.bench_function(
            BenchmarkId::new("resizer_run_i420", format!("{w}x{h}")),
            |b| b.iter(|| resizer.run(black_box(&frame), black_box(&mut out))),
        );
    }
    g.finish();
}

fn postprocess(c: &mut Criterion) {
    let spec = spec();
    let params = DecodeParams {
        score_threshold: spec.score_threshold,
        nms_iou: spec.nms_iou,
        max_detections: 100,
    };
    let mut g = c.benchmark_group("postprocess");
    for (name, objects, seed) in [("8_objects", 8, 1), ("40_objects", 40, 2)] {
        let head = synthetic_head(&spec, objects, seed);
        let levels = head.levels();
        let mut candidates = Vec::new();
        collect_candidates(&spec, &levels, params.score_threshold, &mut candidates);
        let mut scratch = Vec::new();
        let kept = decode(&spec, &levels, &params, [768, 576], &mut scratch).len();
        eprintln!(
            "postprocess/{name}: 3549 cells x 80 classes, {} candidates >= {} -> {kept} after NMS",
            candidates.len(),
            params.score_threshold
        );

        g.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| decode(&spec, black_box(&levels), &params, [768, 576], &mut scratch))
        });
        g.bench_function(BenchmarkId::new("collect_candidates", name), |b| {
            b.iter(|| {
                scratch.clear();
                collect_candidates(
                    &spec,
                    black_box(&levels),
                    params.score_threshold,
                    &mut scratch,
                );
                scratch.len()
            })
        });
        // NMS works in place, so each iteration gets a fresh copy (made outside the timing).
        g.bench_function(BenchmarkId::new("nms_in_place", name), |b| {
            b.iter_batched_ref(
                || candidates.clone(),
                |c| nms_in_place(black_box(c), params.nms_iou),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// Times `iters` steady-state steps of a stateful stage over `len` samples: `fresh` makes a new
/// instance, `step(instance, i)` processes sample `i`. Samples `0..WARM` of each pass are run
/// untimed.
fn steady_state<S>(
    iters: u64,
    len: usize,
    mut fresh: impl FnMut() -> S,
    mut step: impl FnMut(&mut S, usize),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let mut s = fresh();
        for i in 0..WARM {
            step(&mut s, i);
        }
        let n = left.min(len - WARM);
        let t = Instant::now();
        for i in WARM..WARM + n {
            step(&mut s, i);
        }
        total += t.elapsed();
        left -= n;
    }
    total
}

fn tracker(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracker");
    for objects in [20, 60] {
        let scene: Scene = street(objects, SAMPLES, PERIOD, 3);
        let mean = scene.frames.iter().map(Vec::len).sum::<usize>() as f64 / SAMPLES as f64;
        eprintln!("tracker/{objects}: {mean:.1} detections per sample at 2 fps");
        let mut out = Vec::new();
        g.bench_function(BenchmarkId::new("update_2fps", objects), |b| {
            b.iter_custom(|iters| {
                steady_state(
                    iters,
                    SAMPLES,
                    || {
                        let mut t = Tracker::new(TrackerConfig::default());
                        t.set_frame_size(scene.frame_size);
                        t
                    },
                    |t, i| {
                        t.update_into(PERIOD * i as u32, black_box(&scene.frames[i]), &mut out);
                        black_box(&out);
                    },
                )
            })
        });
    }
    g.finish();
}

fn rules(c: &mut Criterion) {
    let start = chrono::DateTime::parse_from_rfc3339("2025-06-02T12:00:00Z")
        .expect("a valid timestamp")
        .to_utc();
    let obs: Vec<Observation> = observations(&street(20, SAMPLES, PERIOD, 3), start);
    let (camera, rule_set) = camera_rules();
    let mean = obs.iter().map(|o| o.objects.len()).sum::<usize>() as f64 / obs.len() as f64;
    let mut events = 0;
    let mut probe = RuleEngine::new(camera.clone(), rule_set.clone(), 8 * 3600);
    for o in &obs {
        events += probe.evaluate(o).len();
    }
    eprintln!(
        "rules: {} rules, {mean:.1} tracked objects per sample, {events} events over {} samples",
        rule_set.len(),
        obs.len()
    );
    let mut g = c.benchmark_group("rules");
    g.bench_function("evaluate_6_rules_20_objects", |b| {
        b.iter_custom(|iters| {
            steady_state(
                iters,
                obs.len(),
                || RuleEngine::new(camera.clone(), rule_set.clone(), 8 * 3600),
                |e, i| {
                    black_box(e.evaluate(black_box(&obs[i])));
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, preprocess, postprocess, tracker, rules);
criterion_main!(benches);
