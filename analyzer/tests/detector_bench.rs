//! Detector throughput: the stage (pre-processing + ORT + decoding + NMS, and the batching
//! pool) against raw `session.run` on the same session and input. Not a test: numbers only,
//! no timing assertions. Run in release:
//!
//! ```text
//! cargo test --release -p xueliang-analyzer --test detector_bench -- --ignored --nocapture
//! ```
//!
//! `XL_BENCH_SECS` sets the time per measurement (default 3 s).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use xueliang_analyzer::detector::{
    Detector, DetectorOptions, DetectorPool, PictureRef, PoolOptions, TaggedFrame,
};
use xueliang_analyzer::model::resolve_model;

const VTEST: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
const W: u32 = 768;
const H: u32 = 576;

fn frames(first: u32, count: u32) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i", VTEST, "-vf"])
        .arg(format!(
            "select=between(n\\,{first}\\,{})",
            first + count - 1
        ))
        .args(["-vsync", "0", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success());
    let n = (W * H * 3) as usize;
    assert_eq!(out.stdout.len(), n * count as usize);
    out.stdout.chunks_exact(n).map(<[u8]>::to_vec).collect()
}

fn secs() -> Duration {
    Duration::from_secs_f64(
        std::env::var("XL_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    )
}

/// Frames per second of `step` (which handles `per_call` frames), after one warm-up call.
fn fps(per_call: usize, mut step: impl FnMut()) -> f64 {
    step();
    let (budget, start) = (secs(), Instant::now());
    let mut calls = 0usize;
    while start.elapsed() < budget {
        step();
        calls += 1;
    }
    (calls * per_call) as f64 / start.elapsed().as_secs_f64()
}

fn detector(max_batch: usize, intra_threads: usize) -> Detector {
    let model = resolve_model("nanodet-m-416", None).expect("run ./xl setup first");
    Detector::new(
        &model,
        &DetectorOptions {
            max_batch,
            intra_threads,
            ..DetectorOptions::default()
        },
    )
    .unwrap()
}

/// Rounds per measurement: raw and stage alternate in short slices so that a change in the
/// machine's background load hits both alike (the ratio is what matters).
const ROUNDS: u32 = 6;

/// Frames per second of `raw` and of `stage` (each call handles `per_call` frames), measured
/// in alternating slices after one warm-up call of each.
fn fps_pair(per_call: usize, mut raw: impl FnMut(), mut stage: impl FnMut()) -> (f64, f64) {
    raw();
    stage();
    let slice = secs() / ROUNDS;
    let (mut t_raw, mut t_stage) = (Duration::ZERO, Duration::ZERO);
    let (mut n_raw, mut n_stage) = (0usize, 0usize);
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        while t0.elapsed() < slice {
            raw();
            n_raw += per_call;
        }
        t_raw += t0.elapsed();
        let t0 = Instant::now();
        while t0.elapsed() < slice {
            stage();
            n_stage += per_call;
        }
        t_stage += t0.elapsed();
    }
    (
        n_raw as f64 / t_raw.as_secs_f64(),
        n_stage as f64 / t_stage.as_secs_f64(),
    )
}

#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn bench_detector_stage_vs_raw_ort() {
    let clip = frames(100, 64);
    let refs: Vec<PictureRef> = clip.iter().map(|f| PictureRef::bgr(W, H, f)).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\ndetector bench: NanoDet-m 416 on {W}x{H} vtest.avi frames, CPU EP, {cores} cores, \
         {:.0} s per row (raw and stage interleaved in {ROUNDS} rounds)",
        2.0 * secs().as_secs_f64()
    );

    println!(
        "\n-- one session, intra_threads=1: raw session.run vs detect_batch (same session) --"
    );
    println!("batch  raw ORT fps  stage fps  stage/raw  pre ms/frame  post ms/frame");
    for b in [1usize, 4, 8] {
        let det = std::cell::RefCell::new(detector(b, 1));
        // Fill the input slots with real frames so the raw run sees real data.
        det.borrow_mut().detect_batch(&refs[..b]).unwrap();
        let mut i = 0;
        let (mut pre, mut post, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
        let (raw, stage) = fps_pair(
            b,
            || det.borrow_mut().run_raw(b).unwrap(),
            || {
                let mut d = det.borrow_mut();
                let start = (i * b) % (refs.len() - b);
                d.detect_batch(&refs[start..start + b]).unwrap();
                let t = d.last_times();
                pre += t.preprocess;
                post += t.postprocess;
                n += b as u32;
                i += 1;
            },
        );
        println!(
            "{b:>5}  {raw:>11.1}  {stage:>9.1}  {:>9.3}  {:>12.2}  {:>13.2}",
            stage / raw,
            pre.as_secs_f64() * 1e3 / n as f64,
            post.as_secs_f64() * 1e3 / n as f64,
        );
    }

    println!(
        "\n-- DetectorPool (batch_timeout 20 ms, queue kept full) vs N raw sessions in parallel --"
    );
    println!("workers  batch  raw ORT fps (N sessions)  pool fps  pool/raw  mean batch");
    let model = resolve_model("nanodet-m-416", None).unwrap();
    for workers in [1usize, 2] {
        for b in [1usize, 4, 8] {
            let mut raw_dets: Vec<Detector> = (0..workers).map(|_| detector(b, 1)).collect();
            for d in &mut raw_dets {
                d.detect_batch(&refs[..b]).unwrap();
            }
            let opts = PoolOptions {
                workers,
                batch_max: b,
                batch_timeout: Duration::from_millis(20),
                queue_capacity: 2 * b * workers,
                detector: DetectorOptions::default(),
            };
            let got = Arc::new(AtomicUsize::new(0));
            let batch_sum = Arc::new(AtomicUsize::new(0));
            let (g, bs) = (got.clone(), batch_sum.clone());
            let pool = DetectorPool::start(&model, &opts, move |d| {
                assert!(d.detections.is_ok());
                g.fetch_add(1, Ordering::Relaxed);
                bs.fetch_add(d.batch_size, Ordering::Relaxed);
            })
            .unwrap();
            let sub = pool.submitter();
            let mut k = 0usize;
            // Keeps the queue full for `slice`, then waits for every submitted frame.
            let mut pool_slice = |slice: Duration| -> usize {
                let before = got.load(Ordering::Relaxed);
                let t0 = Instant::now();
                let mut sent = 0;
                while t0.elapsed() < slice {
                    sub.submit(TaggedFrame {
                        tag: k,
                        width: W,
                        height: H,
                        bgr: clip[k % clip.len()].clone(),
                    })
                    .unwrap();
                    k += 1;
                    sent += 1;
                }
                while got.load(Ordering::Relaxed) < before + sent {
                    std::thread::sleep(Duration::from_micros(200));
                }
                sent
            };
            let raw_slice = |dets: &mut [Detector], slice: Duration| -> usize {
                let done = AtomicUsize::new(0);
                std::thread::scope(|s| {
                    for d in dets.iter_mut() {
                        let done = &done;
                        s.spawn(move || {
                            let t0 = Instant::now();
                            while t0.elapsed() < slice {
                                d.run_raw(b).unwrap();
                                done.fetch_add(b, Ordering::Relaxed);
                            }
                        });
                    }
                });
                done.into_inner()
            };
            // Warm-up both, then alternate.
            raw_slice(&mut raw_dets, Duration::from_millis(200));
            pool_slice(Duration::from_millis(200));
            batch_sum.store(0, Ordering::Relaxed);
            let slice = secs() / ROUNDS;
            let (mut t_raw, mut t_pool) = (Duration::ZERO, Duration::ZERO);
            let (mut n_raw, mut n_pool) = (0usize, 0usize);
            for _ in 0..ROUNDS {
                let t0 = Instant::now();
                n_raw += raw_slice(&mut raw_dets, slice);
                t_raw += t0.elapsed();
                let t0 = Instant::now();
                n_pool += pool_slice(slice);
                t_pool += t0.elapsed();
            }
            let raw = n_raw as f64 / t_raw.as_secs_f64();
            let pool_fps = n_pool as f64 / t_pool.as_secs_f64();
            let mean_batch = batch_sum.load(Ordering::Relaxed) as f64 / n_pool as f64;
            drop(sub);
            pool.shutdown();
            println!(
                "{workers:>7}  {b:>5}  {raw:>24.1}  {pool_fps:>8.1}  {:>8.3}  {mean_batch:>10.2}",
                pool_fps / raw,
            );
        }
    }
}

#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn bench_preprocess_and_decode() {
    use xueliang_analyzer::detector::preprocess::Resizer;
    let model = resolve_model("nanodet-m-416", None).expect("run ./xl setup first");
    let clip = frames(300, 1);
    let mut r = Resizer::new(&model.spec);
    let mut out = vec![0.0f32; r.slot_len()];
    let f = PictureRef::bgr(W, H, &clip[0]);
    let resize = fps(1, || r.run(&f, &mut out));
    let small = vec![128u8; 416 * 416 * 3];
    let f416 = PictureRef::bgr(416, 416, &small);
    let copy = fps(1, || r.run(&f416, &mut out));
    println!(
        "\npreprocess: {W}x{H} -> 416x416 {:.3} ms/frame; 416x416 fast path {:.3} ms/frame",
        1e3 / resize,
        1e3 / copy
    );
}
