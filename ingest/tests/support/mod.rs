//! Set-up shared by the ingest test binaries: the vtest clip, a camsim, an ingest with fast
//! backoff, and waiting for frames or states.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use xueliang_camsim::camera_config;
use xueliang_camsim::{self as camsim, CamsimHandle, CamsimOptions, ClipPreset};
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, Sampling};
use xueliang_core::shutdown::Shutdown;
use xueliang_ingest::decode::{Codec, DecoderOptions};
use xueliang_ingest::frame::Frame;
use xueliang_ingest::session::SessionTuning;
use xueliang_ingest::{CameraState, Ingest, IngestHandle, IngestOptions};

pub fn vtest() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        camsim::ensure_clip(ClipPreset::Vtest, &camsim::default_cache_dir())
            .expect("encode vtest (needs ffmpeg and opencv-doc)")
    })
    .clone()
}

/// The vtest street clip as H.265 (`vtest-h265`), encoded once into the cache.
pub fn vtest_h265() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        camsim::ensure_clip_in(ClipPreset::Vtest, Codec::H265, &camsim::default_cache_dir())
            .expect("encode vtest-h265 (needs ffmpeg with libx265 and opencv-doc)")
    })
    .clone()
}

/// Like [`sim`], serving the H.265 vtest clip.
pub async fn sim_h265(cameras: usize, tweak: impl FnOnce(&mut CamsimOptions)) -> CamsimHandle {
    let clip = tokio::task::spawn_blocking(vtest_h265).await.unwrap();
    let mut o = CamsimOptions::new(cameras, clip);
    tweak(&mut o);
    camsim::start(o).await.expect("camsim starts")
}

pub async fn sim(cameras: usize, tweak: impl FnOnce(&mut CamsimOptions)) -> CamsimHandle {
    let clip = tokio::task::spawn_blocking(vtest).await.unwrap();
    let mut o = CamsimOptions::new(cameras, clip);
    tweak(&mut o);
    camsim::start(o).await.expect("camsim starts")
}

pub fn fast() -> IngestOptions {
    IngestOptions {
        decoder_workers: 1,
        decoder: DecoderOptions::default(),
        decoder_queue_per_camera: 32,
        session: SessionTuning {
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            ..SessionTuning::default()
        },
    }
}

/// [`fast`] with faster stall detection, for tests that provoke stalls or faults.
pub fn fast_stalls() -> IngestOptions {
    let mut o = fast();
    o.session = SessionTuning {
        stall_after: Duration::from_secs(1),
        reconnect_after_stall: Duration::from_millis(1500),
        ..o.session
    };
    o
}

pub fn cam(sim: &CamsimHandle, i: usize, sampling: Sampling) -> CameraConfig {
    camera_config(&format!("cam-{i}"), &sim.url(i), sampling)
}

pub fn id(s: &str) -> CameraId {
    CameraId::new(s).unwrap()
}

pub fn start(
    opts: IngestOptions,
    cameras: Vec<CameraConfig>,
) -> (IngestHandle, mpsc::Receiver<Frame>, Shutdown) {
    let (tx, rx) = mpsc::channel(256);
    let shutdown = Shutdown::new();
    let h = Ingest::start_with(opts, cameras, tx, shutdown.clone()).expect("ingest starts");
    (h, rx, shutdown)
}

pub async fn collect(rx: &mut mpsc::Receiver<Frame>, for_: Duration) -> Vec<Frame> {
    let deadline = tokio::time::Instant::now() + for_;
    let mut out = vec![];
    while let Ok(Some(f)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        out.push(f);
    }
    out
}

pub async fn wait_state(h: &IngestHandle, camera: &str, state: CameraState, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let s = h.status(&id(camera));
        if s.as_ref().is_some_and(|s| s.state == state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{camera} not {state} within {limit:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A camsim camera corrupting 30 % of its packets (`sim` made with `corrupt_ratio = 0.3`) keeps
/// streaming at 5 fps through ingest: no reconnect, the decoder survives, frames keep coming.
pub async fn assert_corrupt_packets_are_survived(sim: &CamsimHandle) {
    let (h, mut rx, _s) = start(fast_stalls(), vec![cam(sim, 0, Sampling::Fps(5.0))]);
    let first = collect(&mut rx, Duration::from_secs(3)).await;
    let later = collect(&mut rx, Duration::from_secs(3)).await;
    assert!(first.len() >= 10, "{} frames in the first 3 s", first.len());
    assert!(later.len() >= 12, "{} frames in the next 3 s", later.len());
    let s = h.stats().cameras[0].clone();
    assert_eq!(s.reconnects, 0, "{s:?}");
    assert!(s.decoded > 100, "{s:?}");
    assert_eq!(h.states()[0].state, CameraState::Streaming);
    h.stop().await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // camsim publishes about once a second
    assert!(sim.stats().packets_corrupted > 0);
}
