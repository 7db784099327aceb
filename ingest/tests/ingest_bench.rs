//! Ingest measurements (not tests: ignored by default, nothing asserts a speed). Run with
//! `cargo test --release -p xueliang-ingest --test ingest_bench -- --ignored --nocapture`;
//! each prints one JSON document. `XL_BENCH_SESSIONS` (default 300) sets the session count,
//! `XL_BENCH_DECODE` = `no`, `yes` or `both` (default) whether keyframes are also decoded, and
//! `XL_BENCH_DECODERS` (default 1) the decoder threads.

use std::time::Duration;

use xueliang_ingest::bench::{ReceiveBenchOptions, bench_decode, bench_receive};
use xueliang_ingest::camsim::{self, ClipPreset};
use xueliang_ingest::decode::DecoderOptions;

fn clip(p: ClipPreset) -> std::path::PathBuf {
    camsim::ensure_clip(p, &camsim::default_cache_dir()).expect("clip")
}

#[test]
#[ignore = "benchmark"]
fn decode_throughput() {
    for p in [ClipPreset::Vtest, ClipPreset::Synthetic720p] {
        let r = bench_decode(&clip(p), 5, &DecoderOptions::default()).unwrap();
        println!("{}", serde_json::to_string_pretty(&r).unwrap());
    }
}

#[test]
#[ignore = "benchmark"]
fn receive_cost() {
    let sessions = std::env::var("XL_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let env = |k: &str| std::env::var(k).ok();
    let modes: &[bool] = match env("XL_BENCH_DECODE").as_deref() {
        Some("no") => &[false],
        Some("yes") => &[true],
        _ => &[false, true],
    };
    let decoders = env("XL_BENCH_DECODERS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for &decode in modes {
        let r = bench_receive(&ReceiveBenchOptions {
            sessions,
            clip: clip(ClipPreset::Vtest),
            duration: Duration::from_secs(20),
            warmup: Duration::from_secs(5),
            decode_keyframes: decode,
            decoder_workers: decoders,
        })
        .unwrap();
        println!("{}", serde_json::to_string_pretty(&r).unwrap());
    }
}
