//! H.265 cameras end to end over real sockets: camsim serving the vtest street clip encoded
//! with libx265 (`vtest-h265`, made once into the cache), retina's RFC 7798 depacketizer, the
//! GStreamer H.265 decoder, frames on the bounded queue. Also the lie: a camera announcing
//! H265 while sending H.264 ends up `unsupported_codec`, not offline or crashed.

use std::time::Duration;

use futures::StreamExt as _;
use retina::client::{PlayOptions, Session, SessionOptions, SetupOptions, Transport};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};
use xueliang_camsim::{Auth, AuthScheme};
use xueliang_core::config::{CameraConfig, Credentials, Sampling, Secret};
use xueliang_ingest::CameraState;
use xueliang_ingest::decode::Codec;
use xueliang_ingest::frame::Frame;

mod support;
use support::*;

/// camsim's H.265 as a plain RTSP client sees it: retina depacketizes it into Annex B access
/// units with VPS/SPS/PPS on each keyframe, one keyframe per 50 frames, 3,600 ticks apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camsim_h265_is_rfc7798_that_retina_depacketizes() {
    let sim = sim_h265(1, |_| {}).await;
    assert_eq!(sim.clip_info().codec, Codec::H265);
    assert_eq!((sim.clip_info().width, sim.clip_info().height), (768, 576));
    assert_eq!(sim.clip_info().max_gop, 50);
    let mut session = Session::describe(
        url::Url::parse(&sim.url(0)).unwrap(),
        SessionOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        session.streams()[0]
            .encoding_name()
            .eq_ignore_ascii_case("h265")
    );
    let sdp = String::from_utf8_lossy(session.sdp()).into_owned();
    assert!(
        sdp.contains("sprop-vps=") && sdp.contains("sprop-pps="),
        "{sdp}"
    );
    session
        .setup(
            0,
            SetupOptions::default()
                .transport(Transport::Tcp(Default::default()))
                .frame_format(FrameFormat::SIMPLE),
        )
        .await
        .unwrap();
    let mut demuxed = session
        .play(PlayOptions::default())
        .await
        .unwrap()
        .demuxed()
        .unwrap();
    let mut frames = vec![];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(item)) = tokio::time::timeout_at(deadline, demuxed.next()).await {
        if let CodecItem::VideoFrame(f) = item.expect("no depacketization error") {
            frames.push(f);
        }
    }
    match demuxed.streams()[0].parameters() {
        Some(ParametersRef::Video(v)) => assert_eq!(v.pixel_dimensions(), (768, 576)),
        other => panic!("no video parameters: {other:?}"),
    }
    assert!(frames.len() > 100, "{} frames in 5 s", frames.len());
    assert!(frames[0].is_random_access_point(), "starts at a keyframe");
    let keys: Vec<usize> = (0..frames.len())
        .filter(|&i| frames[i].is_random_access_point())
        .collect();
    assert!(keys.len() >= 2, "keyframes at {keys:?}");
    for w in keys.windows(2).skip(1) {
        assert_eq!(w[1] - w[0], 50, "keyframes at {keys:?}");
    }
    for &k in &keys {
        // Annex B VPS (type 32) first: the decoder can start here.
        assert_eq!(&frames[k].data()[..6], &[0, 0, 0, 1, 0x40, 0x01]);
    }
    for w in frames.windows(2) {
        assert_eq!(w[0].loss(), 0);
        assert_eq!(
            w[1].timestamp().elapsed() - w[0].timestamp().elapsed(),
            3600
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_keyframes_decode_at_the_camera_size_with_real_moving_content() {
    let sim = sim_h265(1, |_| {}).await;
    let (h, mut rx, _s) = start(fast_stalls(), vec![cam(&sim, 0, Sampling::Keyframes)]);
    let frames = collect(&mut rx, Duration::from_secs(7)).await;
    // The session starts at the keyframe on air, then one every 2 s: 3-4 in 7 s.
    assert!(
        (3..=5).contains(&frames.len()),
        "{} keyframes in 7 s",
        frames.len()
    );
    for f in &frames {
        assert!(f.keyframe);
        assert_eq!(f.source_size, (768, 576));
        assert!(f.luma.variance > 500.0, "a real picture: {:?}", f.luma);
    }
    for w in frames.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "no frame lost");
        assert!(w[1].pts - w[0].pts <= Duration::from_secs(2));
        let d = w[0].luma.thumbnail_difference(&w[1].luma);
        assert!(d > 0.5 && d < 40.0, "consecutive keyframes differ by {d}");
    }
    let st = h.status(&id("cam-0")).unwrap();
    assert_eq!(st.state, CameraState::Streaming, "{st:?}");
    assert_eq!(st.codec, Some(Codec::H265));
    assert_eq!(st.resolution, Some((768, 576)));
    let s = h.stats().cameras[0].clone();
    assert!(s.received > 100, "{s:?}");
    assert_eq!(s.decoded, s.emitted, "{s:?}");
    assert_eq!(
        (s.dropped(), s.decode_errors, s.reconnects),
        (0, 0, 0),
        "{s:?}"
    );
    h.stop().await;
}

/// RTP/AVP over UDP, every frame decoded (P-frames too), 5 of them emitted per second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_over_udp_decodes_every_frame() {
    let sim = sim_h265(1, |_| {}).await;
    let mut c = cam(&sim, 0, Sampling::Fps(5.0));
    c.transport = xueliang_core::config::Transport::Udp;
    let (h, mut rx, _s) = start(fast_stalls(), vec![c]);
    let frames = collect(&mut rx, Duration::from_secs(5)).await;
    assert!(
        frames.len() >= 15,
        "{} frames over UDP in 5 s",
        frames.len()
    );
    assert!(frames.iter().filter(|f| !f.keyframe).count() > frames.len() / 2);
    for w in frames.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "no frame lost on loopback");
    }
    assert!(frames.iter().all(|f| f.source_size == (768, 576)));
    let first_last = frames[0]
        .luma
        .thumbnail_difference(&frames.last().unwrap().luma);
    assert!(first_last > 0.0, "the picture moves over 5 s");
    let st = h.status(&id("cam-0")).unwrap();
    assert_eq!(
        (st.state, st.codec),
        (CameraState::Streaming, Some(Codec::H265))
    );
    let s = h.stats().cameras[0].clone();
    assert!(s.decoded > s.emitted * 4, "{s:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_corrupt_packets_kill_neither_the_session_nor_the_decoder() {
    let sim = sim_h265(1, |o| o.faults.corrupt_ratio = 0.3).await;
    assert_corrupt_packets_are_survived(&sim).await;
}

/// The connection faults and Digest auth are codec-blind in camsim; check they still hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_camera_reconnects_after_drops_and_streams_with_digest_auth() {
    let drops = sim_h265(1, |o| {
        o.faults.drop_every = Some(Duration::from_millis(2500))
    })
    .await;
    let authed = sim_h265(1, |o| {
        o.auth = Some(Auth {
            username: "admin".into(),
            password: "h265-Secret".into(),
            scheme: AuthScheme::Digest,
        })
    })
    .await;
    let mut opts = fast_stalls();
    opts.session.healthy_after = Duration::from_secs(2);
    let with_auth = CameraConfig {
        id: id("auth-0"),
        credentials: Some(Credentials {
            username: "admin".into(),
            password: Secret::new("h265-Secret"),
        }),
        ..cam(&authed, 0, Sampling::Keyframes)
    };
    let (h, mut rx, _s) = start(opts, vec![cam(&drops, 0, Sampling::Fps(5.0)), with_auth]);
    let frames = collect(&mut rx, Duration::from_secs(7)).await;
    let dropped: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.camera.as_str() == "cam-0")
        .collect();
    let restarts = dropped.windows(2).filter(|w| w[1].pts < w[0].pts).count();
    assert!(
        restarts >= 1,
        "{restarts} restarts in {} frames",
        dropped.len()
    );
    assert!(h.status(&id("cam-0")).unwrap().reconnects >= 1);
    assert!(frames.iter().any(|f| f.camera.as_str() == "auth-0"));
    let st = h.status(&id("auth-0")).unwrap();
    assert_eq!(
        (st.state, st.codec),
        (CameraState::Streaming, Some(Codec::H265))
    );
    h.stop().await;
}

/// An H.264 payload under an `H265` SDP: retina's H.265 depacketizer rejects the first packet,
/// and the camera shows `unsupported_codec` with the reason, retrying, never streaming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_payload_announced_as_h265_is_unsupported_codec() {
    let liar = sim(1, |o| o.faults.announce_codec = Some("H265".into())).await;
    let (h, mut rx, _s) = start(fast_stalls(), vec![cam(&liar, 0, Sampling::Keyframes)]);
    wait_state(
        &h,
        "cam-0",
        CameraState::UnsupportedCodec,
        Duration::from_secs(5),
    )
    .await;
    let st = h.status(&id("cam-0")).unwrap();
    let reason = st.reason.clone().unwrap();
    assert!(
        reason.contains("announces H265") && reason.contains("not H.265"),
        "{reason}"
    );
    assert!(!reason.contains('\n'), "one line: {reason}");
    assert_eq!(st.codec, Some(Codec::H265));
    // It keeps retrying with backoff and stays a codec problem, never a frame.
    let frames = collect(&mut rx, Duration::from_secs(2)).await;
    assert!(frames.is_empty());
    let st = h.status(&id("cam-0")).unwrap();
    assert_eq!(st.state, CameraState::UnsupportedCodec, "{st:?}");
    assert!(liar.stats().connections_total >= 2, "{:?}", liar.stats());
    h.stop().await;
}
