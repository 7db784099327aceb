//! `xueliang bench ingest|decode`: each prints a human summary and, as its last line, one JSON
//! object with its figures. Ratios are against limits measured in the same run, so they
//! survive a noisy machine.

use anyhow::{Context, anyhow};
use serde_json::json;
use std::time::Duration;
use xueliang_ingest::bench::{ReceiveBenchOptions, bench_decode, bench_receive};
use xueliang_ingest::camsim;
use xueliang_ingest::decode::DecoderOptions;

fn clip(spec: &str) -> anyhow::Result<std::path::PathBuf> {
    camsim::resolve_clip(spec, &camsim::default_cache_dir())
        .with_context(|| format!("preparing clip {spec:?}"))
}

/// A memory figure of this process from /proc/self/status in MiB (Linux): `VmRSS:` now, or
/// `VmHWM:` for the peak.
fn proc_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
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
        "decode bench: {} ({}x{}, decoder {}, output {}x{})",
        r.clip.display(),
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
    println!(
        "{}",
        json!({
            "bench": "decode", "clip": r.clip, "width": r.width, "height": r.height,
            "stage_fps": stage, "raw_fps": raw, "ratio": stage / raw, "variants": r.variants,
        })
    );
    Ok(())
}

pub fn ingest(
    cameras: usize,
    seconds: u64,
    clip_spec: &str,
    decode: bool,
    decoder_workers: usize,
) -> anyhow::Result<()> {
    let path = clip(clip_spec)?;
    let before = proc_mb("VmRSS:");
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
    let rss_per_camera = (proc_mb("VmHWM:") - before).max(0.0) / cameras.max(1) as f64;
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
