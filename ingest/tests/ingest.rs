//! Ingest end to end over real sockets: camsim (the in-process RTSP replay server) serving the
//! vtest street clip, retina sessions, GStreamer decode, frames on the bounded queue.

use std::time::{Duration, Instant};

use xueliang_core::config::{CameraConfig, Sampling};
use xueliang_ingest::CameraState;
use xueliang_ingest::frame::{CaptureClock, Frame};

mod support;
use support::*;

fn of<'a>(frames: &'a [Frame], camera: &str) -> Vec<&'a Frame> {
    frames
        .iter()
        .filter(|f| f.camera.as_str() == camera)
        .collect()
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframes_from_camsim_are_camera_size_yuv_with_real_content_one_per_gop() {
    let sim = sim(2, |_| {}).await;
    let cams = vec![
        cam(&sim, 0, Sampling::Keyframes),
        cam(&sim, 1, Sampling::Keyframes),
    ];
    let (h, mut rx, shutdown) = start(fast_stalls(), cams);
    let frames = collect(&mut rx, Duration::from_secs(7)).await;
    for c in ["cam-0", "cam-1"] {
        let f = of(&frames, c);
        // The session starts at the IDR on air, then one keyframe every 2 s: 3-4 in 7 s.
        assert!(
            (3..=5).contains(&f.len()),
            "{c}: {} keyframes in 7 s",
            f.len()
        );
        for w in f.windows(2) {
            let gap = w[1].pts - w[0].pts;
            assert!(gap <= Duration::from_secs(2), "{c}: keyframe gap {gap:?}");
            assert!(w[1].seq == w[0].seq + 1, "{c}: no frame lost");
            let d = mean_abs_diff(&w[0].picture.view().to_bgr(), &w[1].picture.view().to_bgr());
            assert!(d > 0.5 && d < 40.0, "{c}: consecutive frames differ by {d}");
        }
        assert!(f.iter().all(|f| f.keyframe
            && (f.picture.width(), f.picture.height()) == (768, 576)
            && f.source_size == (768, 576)
            && f.luma.variance > 500.0));
        // Sender reports arrive about once a second: later frames carry the camera's clock.
        let last = f.last().unwrap();
        assert_eq!(last.capture_clock, CaptureClock::SenderReport, "{c}");
        let age = chrono::Utc::now() - last.captured_at;
        assert!(
            age.num_milliseconds().abs() < 5_000,
            "{c}: captured {age:?} ago"
        );
        assert!(last.ingest_lag() < Duration::from_secs(1));
        let st = h.status(&id(c)).unwrap();
        assert_eq!(st.state, CameraState::Streaming);
        assert_eq!(st.resolution, Some((768, 576)));
        assert!(st.last_frame_at.is_some());
    }
    let stats = h.stats();
    for c in &stats.cameras {
        // 25 fps received, only keyframes decoded.
        assert!(c.received > 100, "{c:?}");
        assert_eq!(c.decoded, c.emitted, "{c:?}");
        assert!(c.bytes > 100_000, "{c:?}");
        assert_eq!(c.dropped(), 0, "{c:?}");
    }
    assert_eq!(stats.total.reconnects, 0);
    shutdown.trigger();
    // Shutdown closes the frame channel once the decoders are gone.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "frame channel closed after shutdown");
}

/// `transport = "udp"`: RTP/AVP over UDP from camsim's port pair, every frame decoded with
/// real content and the camera's clock from RTCP sender reports over UDP too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_transport_delivers_every_frame() {
    let sim = sim(1, |_| {}).await;
    let mut c = cam(&sim, 0, Sampling::Fps(5.0));
    c.transport = xueliang_core::config::Transport::Udp;
    let (h, mut rx, _s) = start(fast_stalls(), vec![c]);
    let frames = collect(&mut rx, Duration::from_secs(5)).await;
    assert!(
        frames.len() >= 15,
        "{} frames over UDP in 5 s",
        frames.len()
    );
    for w in frames.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "no frame lost on loopback");
        assert!(
            mean_abs_diff(&w[0].picture.view().to_bgr(), &w[1].picture.view().to_bgr()) > 0.1,
            "frames differ"
        );
    }
    assert_eq!(frames[0].source_size, (768, 576));
    assert_eq!(
        frames.last().unwrap().capture_clock,
        CaptureClock::SenderReport,
        "RTCP sender reports reach the client over UDP"
    );
    let s = h.status(&id("cam-0")).unwrap();
    assert_eq!(s.state, CameraState::Streaming, "{s:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_fps_sampling_yields_about_n_frames_per_second() {
    let sim = sim(1, |_| {}).await;
    let (h, mut rx, _s) = start(fast_stalls(), vec![cam(&sim, 0, Sampling::Fps(5.0))]);
    let frames = collect(&mut rx, Duration::from_secs(5)).await;
    let span = frames.last().unwrap().pts - frames[0].pts;
    let rate = (frames.len() - 1) as f64 / span.as_secs_f64();
    assert!(
        (4.5..=5.5).contains(&rate),
        "{} frames over {span:?}: {rate} fps",
        frames.len()
    );
    assert!(frames.iter().filter(|f| !f.keyframe).count() > frames.len() / 2);
    let s = h.stats().cameras[0].clone();
    // Every frame decoded, one in five emitted.
    assert!(s.decoded > s.emitted * 4, "{s:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_is_reestablished_within_the_backoff_bound() {
    let sim = sim(1, |o| {
        o.faults.drop_every = Some(Duration::from_millis(2500))
    })
    .await;
    let mut opts = fast_stalls();
    // Each session streams 2.5 s, longer than this: the backoff resets after every drop, so
    // every reconnect waits at most `backoff_initial`.
    opts.session.healthy_after = Duration::from_secs(2);
    let bound = opts.session.backoff_initial;
    let (h, mut rx, _s) = start(opts, vec![cam(&sim, 0, Sampling::Fps(10.0))]);
    let frames = collect(&mut rx, Duration::from_secs(9)).await;
    let s = h.stats().cameras[0].clone();
    assert!(s.reconnects >= 2, "{s:?}");
    // A new session restarts stream time: find the restarts and the gap around each.
    let mut restarts = 0;
    for w in frames.windows(2) {
        let gap = w[1].received_at - w[0].received_at;
        if w[1].pts < w[0].pts {
            restarts += 1;
            // Hang-up noticed at once (EOF), jittered wait ≤ bound, DESCRIBE/SETUP/PLAY and
            // the IDR on air: well under bound + 1 s on loopback.
            assert!(
                gap < bound + Duration::from_secs(1),
                "reconnected after {gap:?} (bound {bound:?})"
            );
        } else {
            assert!(
                gap < Duration::from_millis(500),
                "gap {gap:?} within a session"
            );
        }
    }
    assert!(restarts >= 2, "{restarts} reconnects seen in frames");
    wait_state(&h, "cam-0", CameraState::Streaming, Duration::from_secs(3)).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_packets_kill_neither_the_session_nor_the_decoder() {
    let sim = sim(1, |o| o.faults.corrupt_ratio = 0.3).await;
    assert_corrupt_packets_are_survived(&sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_reload_adds_removes_and_restarts_only_changed_cameras() {
    let sim = sim(4, |_| {}).await;
    let disabled = CameraConfig {
        enabled: false,
        ..cam(&sim, 3, Sampling::Keyframes)
    };
    let (h, mut rx, _s) = start(
        fast_stalls(),
        vec![
            cam(&sim, 0, Sampling::Keyframes),
            cam(&sim, 1, Sampling::Keyframes),
            disabled.clone(),
        ],
    );
    wait_state(&h, "cam-0", CameraState::Streaming, Duration::from_secs(5)).await;
    wait_state(&h, "cam-1", CameraState::Streaming, Duration::from_secs(5)).await;
    assert_eq!(h.status(&id("cam-3")).unwrap().state, CameraState::Disabled);
    let since_1 = h.status(&id("cam-1")).unwrap().since;

    let r = h.reload(vec![
        cam(&sim, 1, Sampling::Keyframes),
        cam(&sim, 2, Sampling::Keyframes),
        disabled.clone(),
    ]);
    assert_eq!(r.added, vec![id("cam-2")]);
    assert_eq!(r.removed, vec![id("cam-0")]);
    assert!(r.restarted.is_empty());
    assert_eq!(r.unchanged, 2);
    wait_state(&h, "cam-2", CameraState::Streaming, Duration::from_secs(5)).await;
    assert!(h.status(&id("cam-0")).is_none());
    let ids: Vec<String> = h.states().iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, ["cam-1", "cam-2", "cam-3"]);
    // cam-1 was not disturbed.
    let st1 = h.status(&id("cam-1")).unwrap();
    assert_eq!((st1.state, st1.since), (CameraState::Streaming, since_1));
    // Frames now come from cam-1 and cam-2 only.
    while rx.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(200)).await;
    while rx.try_recv().is_ok() {}
    let frames = collect(&mut rx, Duration::from_millis(4500)).await;
    assert!(frames.iter().any(|f| f.camera.as_str() == "cam-2"));
    assert!(frames.iter().any(|f| f.camera.as_str() == "cam-1"));
    assert!(!frames.iter().any(|f| f.camera.as_str() == "cam-0"));

    // A changed sampling policy restarts that camera alone, keeping its counters.
    let seq_before = h.stats().camera(&id("cam-1")).unwrap().emitted;
    let r = h.reload(vec![
        cam(&sim, 1, Sampling::Fps(2.0)),
        cam(&sim, 2, Sampling::Keyframes),
        disabled,
    ]);
    assert_eq!(r.restarted, vec![id("cam-1")]);
    assert_eq!(r.unchanged, 2);
    wait_state(&h, "cam-1", CameraState::Streaming, Duration::from_secs(5)).await;
    let frames = collect(&mut rx, Duration::from_secs(2)).await;
    let c1 = of(&frames, "cam-1");
    assert!(c1.len() >= 3, "2 fps after the change: {}", c1.len());
    assert!(c1[0].seq >= seq_before, "seq continues across the restart");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_codec_and_stalled_stream_states() {
    let codec = sim(1, |o| o.faults.announce_codec = Some("MP4V-ES".into())).await;
    let stall = sim(1, |o| {
        o.faults.stall_after = Some(Duration::from_millis(1500))
    })
    .await;
    let stalled_cam = CameraConfig {
        id: id("stall-0"),
        ..cam(&stall, 0, Sampling::Keyframes)
    };
    let (h, _rx, _s) = start(
        fast_stalls(),
        vec![cam(&codec, 0, Sampling::Keyframes), stalled_cam],
    );
    wait_state(
        &h,
        "cam-0",
        CameraState::UnsupportedCodec,
        Duration::from_secs(5),
    )
    .await;
    let st = h.status(&id("cam-0")).unwrap();
    assert!(st.reason.as_deref().unwrap().contains("mp4v-es"), "{st:?}");
    // Media stops 1.5 s after PLAY while RTSP keeps answering: stalled after 1 s without a
    // frame, then the session is dropped and re-established.
    wait_state(
        &h,
        "stall-0",
        CameraState::Streaming,
        Duration::from_secs(5),
    )
    .await;
    wait_state(&h, "stall-0", CameraState::Stalled, Duration::from_secs(5)).await;
    let deadline = Instant::now() + Duration::from_secs(8);
    while h.status(&id("stall-0")).unwrap().reconnects == 0 {
        assert!(
            Instant::now() < deadline,
            "stalled session never re-established"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.stop().await;
}
