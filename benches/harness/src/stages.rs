//! `xueliang-bench ingest|decode|detect`: each prints a human summary and, as its last line,
//! one JSON object with its figures. Ratios are against limits measured in the same run, so
//! they survive a noisy machine.

use crate::ingest::{ReceiveBenchOptions, bench_decode, bench_receive};
use anyhow::{Context, anyhow};
use serde_json::json;
use std::time::Duration;
use xueliang_camsim as camsim;
use xueliang_ingest::decode::DecoderOptions;
use xueliang_testkit::proc::{self, process_cpu_s, thread_cpu};

fn clip(spec: &str) -> anyhow::Result<std::path::PathBuf> {
    camsim::resolve_clip(spec, &camsim::default_cache_dir())
        .with_context(|| format!("preparing clip {spec:?}"))
}

pub fn decode(clip_spec: &str, loops: usize) -> anyhow::Result<()> {
    let path = clip(clip_spec)?;
    let r = bench_decode(&path, loops.max(1), &DecoderOptions::default())?;
    let get = |name: &str| {
        r.variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.units_per_cpu_s)
            .ok_or_else(|| anyhow!("variant {name} missing from the decode bench"))
    };
    eprintln!(
        "decode bench: {} ({:?} {}x{}, decoder {}, output {}x{})",
        r.clip.display(),
        r.codec,
        r.width,
        r.height,
        r.decoder,
        r.output.0,
        r.output.1
    );
    for v in &r.variants {
        eprintln!(
            "  {:<24} {:>8.1} units per CPU-second  ({} pushed, {} emitted, {:.2} s CPU)",
            v.name, v.units_per_cpu_s, v.pushed, v.emitted, v.cpu_s
        );
    }
    let (stage, raw) = (get("pipeline_keyframes")?, get("baseline_keyframes")?);
    eprintln!(
        "  keyframe decode stage = {:.2}x the raw decoder (target >= 0.9)",
        stage / raw
    );
    // The stage hands over the decoder's YUV; resizing and converting it happen in the
    // detector's pre-processor. Time that too, so the whole per-frame cost is on the record.
    let sample = r
        .sample
        .as_ref()
        .ok_or_else(|| anyhow!("the keyframe pipeline emitted no picture"))?;
    let preprocess_us = preprocess_us(sample)?;
    let with_pre = 1.0 / (1.0 / stage + preprocess_us * 1e-6);
    eprintln!(
        "  detector pre-processing of that {:?} picture to the model input: {preprocess_us:.0} us; \
         decode stage + pre-processing = {with_pre:.1} keyframes per CPU-second",
        sample.format()
    );
    println!(
        "{}",
        json!({
            "bench": "decode", "clip": r.clip, "codec": r.codec, "width": r.width,
            "height": r.height,
            "stage_fps": stage, "raw_fps": raw, "ratio": stage / raw,
            "preprocess_us": preprocess_us, "stage_plus_preprocess_fps": with_pre,
            "variants": r.variants,
        })
    );
    Ok(())
}

/// CPU microseconds of one `Resizer::run` of `picture` into NanoDet-m 416's input.
fn preprocess_us(picture: &xueliang_core::picture::Picture) -> anyhow::Result<f64> {
    use xueliang_analyzer::detector::preprocess::Resizer;
    let spec = xueliang_analyzer::model::builtin_manifest("nanodet-m-416")?;
    let mut resizer = Resizer::new(&spec);
    let mut out = vec![0.0f32; resizer.slot_len()];
    let view = picture.view();
    view.check()?;
    resizer.run(&view, &mut out);
    let n = 200;
    let t0 = thread_cpu();
    for _ in 0..n {
        resizer.run(std::hint::black_box(&view), &mut out);
    }
    Ok((thread_cpu() - t0).as_secs_f64() * 1e6 / f64::from(n))
}

pub fn ingest(
    cameras: usize,
    seconds: u64,
    clip_spec: &str,
    decode: bool,
    decoder_workers: usize,
) -> anyhow::Result<()> {
    let path = clip(clip_spec)?;
    let before = proc::rss_mb();
    let opts = ReceiveBenchOptions {
        sessions: cameras,
        clip: path,
        duration: Duration::from_secs(seconds),
        warmup: Duration::from_secs(3),
        decode_keyframes: decode,
        decoder_workers,
    };
    let r = bench_receive(&opts)?;
    // Peak RSS during the run (sessions are gone once it returns), less the baseline.
    let rss_per_camera = (proc::peak_rss_mb() - before).max(0.0) / cameras.max(1) as f64;
    let expected = (cameras as f64 * r.seconds * 25.0).round() as u64;
    let received_ratio = r.frames_received as f64 / expected.max(1) as f64;
    eprintln!(
        "ingest bench: {cameras} cameras for {:.1} s ({} streaming), clip {clip_spec}",
        r.seconds, r.streaming
    );
    eprintln!(
        "  frames received {} of {expected} expected ({:.2}%), {:.1} us CPU per frame, client {:.2} cores, camsim {:.2} cores",
        r.frames_received,
        received_ratio * 100.0,
        r.receive_cpu_us_per_frame,
        r.client_cores,
        r.server_cores
    );
    eprintln!("  memory {rss_per_camera:.3} MB per camera (client + in-process simulator)");
    println!(
        "{}",
        json!({
            "bench": "ingest", "cameras": cameras, "seconds": r.seconds, "clip": clip_spec,
            "frames_expected": expected, "frames_received": r.frames_received,
            "received_ratio": received_ratio, "cpu_us_per_frame": r.receive_cpu_us_per_frame,
            "rss_mb_per_camera": rss_per_camera, "client_cores": r.client_cores,
            "server_cores": r.server_cores, "frames_emitted": r.frames_emitted,
            "frames_dropped": r.frames_dropped,
            "decode_cpu_us_per_frame": r.decode_cpu_us_per_frame,
        })
    );
    Ok(())
}

/// Detector stage (pre-processing + inference + box decoding + NMS on real 416×416 frames of
/// the street clip) against the same session's bare `session.run` at batch 1, 4 and 8.
pub fn detect(seconds: f64, intra_threads: usize) -> anyhow::Result<()> {
    use xueliang_analyzer::detector::{Detector, DetectorOptions, PictureRef};
    use xueliang_analyzer::model::resolve_model;
    use xueliang_ingest::decode::{FileDecodeOptions, FileDecoder};

    let model = resolve_model("nanodet-m-416", None)?;
    let video = std::path::Path::new("/usr/share/doc/opencv-doc/examples/data/vtest.avi");
    let frames: Vec<_> = FileDecoder::open(
        video,
        FileDecodeOptions {
            from_s: Some(20.0),
            to_s: Some(22.0),
            size: Some((416, 416)),
            ..Default::default()
        },
    )
    .with_context(|| format!("decoding {} (Debian package opencv-doc)", video.display()))?
    .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        frames.len() >= 8,
        "need 8 frames of the clip, got {}",
        frames.len()
    );
    let opts = DetectorOptions {
        intra_threads,
        max_batch: 8,
        ..DetectorOptions::default()
    };
    let mut det = Detector::new(&model, &opts)?;
    let window = Duration::from_secs_f64(seconds.max(0.5));
    let mut rows = Vec::new();
    eprintln!(
        "detect bench: {} {} on CPU, {intra_threads} intra-op thread(s), {:.1} s per variant",
        model.spec.name,
        model.spec.version,
        window.as_secs_f64()
    );
    for batch in [1usize, 4, 8] {
        let refs: Vec<PictureRef<'_>> = frames[..batch]
            .iter()
            .map(|f| PictureRef::bgr(f.width, f.height, &f.bgr))
            .collect();
        det.detect_batch(&refs)?; // warm-up; also fills the input buffer for run_raw
        let measure = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<(f64, f64)> {
            let (t0, c0, mut n) = (
                std::time::Instant::now(),
                process_cpu_s(std::process::id()),
                0u64,
            );
            while t0.elapsed() < window {
                f()?;
                n += 1;
            }
            let (wall, cpu) = (
                t0.elapsed().as_secs_f64(),
                process_cpu_s(std::process::id()) - c0,
            );
            Ok((
                (n * batch as u64) as f64 / wall,
                cpu * 1000.0 / (n * batch as u64) as f64,
            ))
        };
        let (raw_fps, raw_cpu_ms) = measure(&mut || Ok(det.run_raw(batch)?))?;
        let (stage_fps, stage_cpu_ms) = measure(&mut || {
            det.detect_batch(&refs)?;
            Ok(())
        })?;
        eprintln!(
            "  batch {batch}: stage {stage_fps:6.1} fps ({stage_cpu_ms:.1} ms CPU/frame), raw ORT {raw_fps:6.1} fps ({raw_cpu_ms:.1} ms CPU/frame), ratio {:.3}",
            stage_fps / raw_fps
        );
        rows.push(json!({
            "batch": batch, "stage_fps": stage_fps, "raw_fps": raw_fps,
            "ratio": stage_fps / raw_fps, "cpu_ms_per_frame": stage_cpu_ms,
            "raw_cpu_ms_per_frame": raw_cpu_ms,
        }));
    }
    let worst = rows
        .iter()
        .min_by(|a, b| {
            a["ratio"]
                .as_f64()
                .partial_cmp(&b["ratio"].as_f64())
                .unwrap()
        })
        .cloned()
        .unwrap_or_default();
    println!(
        "{}",
        json!({
            "bench": "detect", "model": model.spec.name, "intra_threads": intra_threads,
            "batch": worst["batch"], "stage_fps": worst["stage_fps"], "raw_fps": worst["raw_fps"],
            "ratio": worst["ratio"], "cpu_ms_per_frame": worst["cpu_ms_per_frame"],
            "batches": rows,
        })
    );
    Ok(())
}
