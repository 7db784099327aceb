//! The camera simulator against real clients over real sockets: retina (the RTSP client ingest
//! uses) for the protocol and content checks, a raw TCP client for status codes and the
//! many-sessions smoke test. The clip is the real street scene (vtest.avi re-encoded once into
//! the cache by ffmpeg).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use futures::StreamExt as _;
use retina::client::{
    Credentials, Demuxed, PlayOptions, Session, SessionOptions, SetupOptions, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoFrame};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use xueliang_camsim::{
    self as camsim, Auth, CameraSet, CamsimHandle, CamsimOptions, ClipPreset, Faults, h264,
};

const GOP: usize = 50;
const TICKS_PER_FRAME: i64 = 90_000 / 25;

fn vtest() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        camsim::ensure_clip(ClipPreset::Vtest, &camsim::default_cache_dir())
            .expect("encode vtest.avi (needs ffmpeg and opencv-doc)")
    })
    .clone()
}

/// Every slice NAL of the clip, to recognise (un)altered frames on the receiving side.
fn clip_slices() -> &'static HashSet<Vec<u8>> {
    static SLICES: OnceLock<HashSet<Vec<u8>>> = OnceLock::new();
    SLICES.get_or_init(|| {
        let data = std::fs::read(vtest()).unwrap();
        h264::nal_units(&data)
            .into_iter()
            .filter(|n| h264::is_slice(n))
            .map(<[u8]>::to_vec)
            .collect()
    })
}

async fn start(opts: CamsimOptions) -> CamsimHandle {
    camsim::start(opts).await.expect("camsim starts")
}

async fn vtest_opts(cameras: usize) -> CamsimOptions {
    let clip = tokio::task::spawn_blocking(vtest).await.unwrap();
    CamsimOptions::new(cameras, clip)
}

async fn retina_play(url: &str, creds: Option<(&str, &str)>) -> Result<Demuxed, retina::Error> {
    let opts = SessionOptions::default()
        .user_agent("camsim-test".into())
        .creds(creds.map(|(u, p)| Credentials {
            username: u.into(),
            password: p.into(),
        }));
    let mut session = Session::describe(url::Url::parse(url).unwrap(), opts).await?;
    session
        .setup(
            0,
            SetupOptions::default()
                .transport(Transport::Tcp(Default::default()))
                .frame_format(FrameFormat::SIMPLE),
        )
        .await?;
    session.play(PlayOptions::default()).await?.demuxed()
}

/// What one camera delivered: frames, and (RTP time, NTP) of each sender report.
struct Received {
    frames: Vec<VideoFrame>,
    sender_reports: Vec<(i64, u64)>,
    dims: Option<(u32, u32)>,
}

async fn receive(demuxed: &mut Demuxed, n: usize, limit: Duration) -> Received {
    let mut r = Received {
        frames: vec![],
        sender_reports: vec![],
        dims: None,
    };
    let deadline = Instant::now() + limit;
    while r.frames.len() < n {
        let item = tokio::time::timeout_at(deadline, demuxed.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} frames within {limit:?}", r.frames.len()))
            .expect("stream ended early")
            .expect("stream error");
        match item {
            CodecItem::VideoFrame(f) => {
                if r.dims.is_none()
                    && let Some(ParametersRef::Video(v)) = demuxed.streams()[0].parameters()
                {
                    r.dims = Some(v.pixel_dimensions());
                }
                r.frames.push(f);
            }
            CodecItem::Rtcp(rtcp) => {
                if let (Some(ts), Some(Ok(Some(sr)))) = (
                    rtcp.rtp_timestamp(),
                    rtcp.pkts().next().map(|p| p.as_sender_report()),
                ) {
                    r.sender_reports
                        .push((ts.timestamp(), sr.ntp_timestamp().0));
                }
            }
            _ => {}
        }
    }
    r
}

fn slice_nals(frame: &VideoFrame) -> Vec<&[u8]> {
    h264::nal_units(frame.data())
        .into_iter()
        .filter(|n| h264::is_slice(n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vtest_cameras_stream_keyframes_and_timestamps_via_retina() {
    let cams = 3;
    let sim = start(vtest_opts(cams).await).await;
    assert_eq!((sim.clip_info().width, sim.clip_info().height), (768, 576));
    let mut tasks = vec![];
    for i in 0..cams {
        let url = sim.url(i);
        tasks.push(tokio::spawn(async move {
            let mut d = retina_play(&url, None).await.expect("retina plays");
            receive(&mut d, 2 * GOP + 10, Duration::from_secs(20)).await
        }));
    }
    let mut idr_phases_ms = vec![];
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        assert_eq!(r.dims, Some((768, 576)), "camera {i}: video parameters");
        let f = &r.frames;
        assert!(
            f[0].is_random_access_point(),
            "camera {i}: first frame is a keyframe"
        );
        let keys: Vec<usize> = (0..f.len())
            .filter(|&j| f[j].is_random_access_point())
            .collect();
        // The session starts with the IDR of the GOP on air, then joins the camera's cadence.
        assert!(
            keys.len() >= 3 && keys[1] <= GOP,
            "camera {i}: keyframes at {keys:?}"
        );
        for w in keys[1..].windows(2) {
            assert_eq!(w[1] - w[0], GOP, "camera {i}: keyframes at {keys:?}");
        }
        for w in f.windows(2) {
            let d = w[1].timestamp().timestamp() - w[0].timestamp().timestamp();
            assert_eq!(
                d, TICKS_PER_FRAME,
                "camera {i}: frame timestamps advance 1/25 s"
            );
        }
        assert!(f.iter().all(|fr| fr.loss() == 0), "camera {i}: no loss");
        // Packetization round trip: every slice arrives byte-identical to the clip's.
        for (j, fr) in f.iter().enumerate() {
            let slices = slice_nals(fr);
            assert!(!slices.is_empty(), "camera {i} frame {j}: has slice data");
            assert!(
                slices.iter().all(|s| clip_slices().contains(*s)),
                "camera {i} frame {j}: slice data altered"
            );
        }
        // Sender reports map RTP time to the wall clock; use them to place the cadence keyframe
        // on the server's schedule (exact, unlike arrival times).
        assert!(
            !r.sender_reports.is_empty(),
            "camera {i}: RTCP sender reports"
        );
        let (sr_ts, sr_ntp) = r.sender_reports[0];
        let key_ts = f[keys[1]].timestamp().timestamp();
        let sr_ms = (sr_ntp >> 32) as f64 * 1000.0 + (sr_ntp & 0xffff_ffff) as f64 / 4_294_967.296;
        let key_ms = sr_ms + (key_ts - sr_ts) as f64 / 90.0;
        idr_phases_ms.push(key_ms.rem_euclid(2000.0));
    }
    // Three cameras' keyframes are spread evenly over the 2 s GOP.
    for a in 0..cams {
        for b in a + 1..cams {
            let d = (idr_phases_ms[a] - idr_phases_ms[b]).rem_euclid(2000.0);
            let circular = d.min(2000.0 - d);
            assert!(
                (circular - 2000.0 / 3.0).abs() < 5.0,
                "keyframe phases {idr_phases_ms:?} (ms mod 2 s) are not staggered"
            );
        }
    }
    let stats = sim.stats();
    assert!(stats.connections_total >= 3);
    sim.stop().await;
}

/// Sends one request on a fresh connection and returns the whole response (head and body).
async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = BufReader::new(TcpStream::connect(addr).await.unwrap());
    s.write_all(request.as_bytes()).await.unwrap();
    read_response(&mut s).await
}

/// Reads exactly one response, leaving whatever follows (interleaved data) in the buffer.
async fn read_response(s: &mut BufReader<TcpStream>) -> String {
    timeout(Duration::from_secs(5), async {
        let mut head = String::new();
        loop {
            let n = s.read_line(&mut head).await.unwrap();
            assert!(n > 0, "connection closed before a full response: {head:?}");
            if head.ends_with("\r\n\r\n") {
                break;
            }
        }
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.unwrap();
        head + &String::from_utf8_lossy(&body)
    })
    .await
    .expect("response in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_camera_is_404_and_unsupported_transport_is_461() {
    let sim = start(vtest_opts(3).await).await;
    let addr = sim.local_addr();
    for path in ["cam/3", "cam/99", "live"] {
        let resp = raw_request(
            addr,
            &format!("DESCRIBE rtsp://{addr}/{path} RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        )
        .await;
        assert!(resp.starts_with("RTSP/1.0 404"), "{path}: {resp}");
        assert!(resp.contains("CSeq: 1"));
    }
    let err = retina_play(&sim.url(3), None)
        .await
        .err()
        .expect("404 fails");
    assert!(err.to_string().contains("404"), "{err}");

    // Multicast and SRTP are not served; UDP unicast is, from a consecutive port pair.
    for transport in [
        "RTP/AVP;multicast",
        "RTP/SAVP;unicast;client_port=5000-5001",
    ] {
        let resp = raw_request(
            addr,
            &format!(
                "SETUP rtsp://{addr}/cam/0/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n\
                 Transport: {transport}\r\n\r\n"
            ),
        )
        .await;
        assert!(resp.starts_with("RTSP/1.0 461"), "{transport}: {resp}");
    }
    let resp = raw_request(
        addr,
        &format!(
            "SETUP rtsp://{addr}/cam/0/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n\
             Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n"
        ),
    )
    .await;
    assert!(resp.starts_with("RTSP/1.0 200"), "{resp}");
    let ports = resp
        .split("server_port=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap_or_else(|| panic!("no server_port: {resp}"));
    let (a, b) = ports.split_once('-').unwrap();
    assert_eq!(
        b.trim().parse::<u16>().unwrap(),
        a.parse::<u16>().unwrap() + 1,
        "RTCP on the port after RTP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_rejects_wrong_and_accepts_right_credentials() {
    let mut opts = vtest_opts(2).await;
    opts.auth = Some(Auth::parse_user_pass("admin:s3cret").unwrap());
    let sim = start(opts).await;
    let addr = sim.local_addr();

    let resp = raw_request(
        addr,
        &format!("DESCRIBE rtsp://{addr}/cam/0 RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
    )
    .await;
    assert!(resp.starts_with("RTSP/1.0 401"), "{resp}");
    assert!(
        resp.contains("WWW-Authenticate: Digest realm=\"xueliang-camsim\", nonce=\""),
        "{resp}"
    );

    let err = retina_play(&sim.url(0), None)
        .await
        .err()
        .expect("no creds fails");
    assert!(err.to_string().contains("no credentials"), "{err}");
    let err = retina_play(&sim.url(0), Some(("admin", "wrong")))
        .await
        .err()
        .expect("wrong password fails");
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    let err = retina_play(&sim.url(0), Some(("root", "s3cret")))
        .await
        .err()
        .expect("wrong user fails");
    assert!(err.to_string().contains("Unauthorized"), "{err}");

    let mut d = retina_play(&sim.url(1), Some(("admin", "s3cret")))
        .await
        .expect("right credentials play");
    let r = receive(&mut d, 10, Duration::from_secs(10)).await;
    assert!(r.frames[0].is_random_access_point());
    assert!(sim.stats().auth_failures >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_auth_fault_applies_to_selected_cameras_only() {
    let mut opts = vtest_opts(2).await;
    opts.auth = Some(Auth::parse_user_pass("admin:s3cret").unwrap());
    opts.faults = Faults {
        cameras: "1".parse::<CameraSet>().unwrap(),
        refuse_auth: true,
        ..Faults::default()
    };
    let sim = start(opts).await;
    let err = retina_play(&sim.url(1), Some(("admin", "s3cret")))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    let mut d = retina_play(&sim.url(0), Some(("admin", "s3cret")))
        .await
        .expect("camera 0 unaffected");
    receive(&mut d, 5, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_every_closes_the_connection_after_the_interval() {
    let mut opts = vtest_opts(1).await;
    opts.faults.drop_every = Some(Duration::from_secs(2));
    let sim = start(opts).await;
    let mut d = retina_play(&sim.url(0), None).await.unwrap();
    let played = Instant::now();
    let r = receive(&mut d, 10, Duration::from_secs(5)).await;
    assert!(r.frames[0].is_random_access_point());
    // Drain until the server hangs up: the stream ends or errors (EOF mid-session).
    let ended = timeout(Duration::from_secs(10), async {
        loop {
            match d.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Some(e.to_string()),
                None => break None,
            }
        }
    })
    .await
    .expect("server closed the connection");
    let after = played.elapsed();
    assert!(
        after > Duration::from_millis(1500) && after < Duration::from_secs(8),
        "closed after {after:?} ({ended:?})"
    );
    assert_eq!(sim.stats().fault_disconnects, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_after_stops_media_but_keeps_the_connection() {
    let mut opts = vtest_opts(1).await;
    opts.faults.stall_after = Some(Duration::from_secs(1));
    let sim = start(opts).await;
    let mut d = retina_play(&sim.url(0), None).await.unwrap();
    receive(&mut d, 10, Duration::from_secs(5)).await;
    // Within a few frames of the stall instant the media stops, with no error and no EOF.
    let quiet = timeout(Duration::from_secs(4), async {
        loop {
            match timeout(Duration::from_millis(1500), d.next()).await {
                Err(_) => return,
                Ok(Some(Ok(_))) => continue,
                Ok(other) => panic!(
                    "stream ended instead of stalling: {:?}",
                    other.map(|r| r.err())
                ),
            }
        }
    })
    .await;
    assert!(quiet.is_ok(), "media kept flowing after stall_after");
    let stats = sim.stats();
    assert_eq!(stats.fault_stalls, 1);
    assert_eq!(
        stats.connections_active, 1,
        "the stalled connection stays open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_ratio_alters_payloads_but_frames_still_arrive() {
    let mut opts = vtest_opts(1).await;
    opts.faults.corrupt_ratio = 0.3;
    let sim = start(opts).await;
    let mut d = retina_play(&sim.url(0), None).await.unwrap();
    let r = receive(&mut d, 60, Duration::from_secs(10)).await;
    let altered = r
        .frames
        .iter()
        .filter(|f| slice_nals(f).iter().any(|s| !clip_slices().contains(*s)))
        .count();
    assert!(
        altered > 5,
        "only {altered} of 60 frames altered at ratio 0.3"
    );
    assert!(
        r.frames.iter().all(|f| f.loss() == 0),
        "framing intact: no RTP loss"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await; // counters publish about once a second
    assert!(sim.stats().packets_corrupted > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announce_codec_puts_an_unsupported_codec_in_the_sdp() {
    let mut opts = vtest_opts(1).await;
    opts.faults.announce_codec = Some("H265".into());
    let sim = start(opts).await;
    let addr = sim.local_addr();
    let resp = raw_request(
        addr,
        &format!("DESCRIBE rtsp://{addr}/cam/0 RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
    )
    .await;
    assert!(resp.starts_with("RTSP/1.0 200"), "{resp}");
    assert!(resp.contains("Content-Type: application/sdp"));
    assert!(resp.contains("a=rtpmap:96 H265/90000"), "{resp}");
    assert!(!resp.contains("H264"), "{resp}");
    match Session::describe(
        url::Url::parse(&sim.url(0)).unwrap(),
        SessionOptions::default(),
    )
    .await
    {
        Ok(s) => assert!(s.streams()[0].encoding_name().eq_ignore_ascii_case("h265")),
        Err(e) => assert!(e.to_string().to_ascii_lowercase().contains("h265"), "{e}"),
    }
}

/// A minimal RTSP client: SETUP + PLAY, then count frames (RTP packets with the marker bit).
async fn raw_session(addr: std::net::SocketAddr, camera: usize, run_for: Duration) -> usize {
    let mut s = BufReader::with_capacity(64 * 1024, TcpStream::connect(addr).await.unwrap());
    let url = format!("rtsp://{addr}/cam/{camera}");
    s.write_all(
        format!(
            "SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n\
             Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let setup = read_response(&mut s).await;
    assert!(setup.starts_with("RTSP/1.0 200"), "{setup}");
    let session = setup
        .lines()
        .find_map(|l| l.strip_prefix("Session: "))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    s.write_all(format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let play = read_response(&mut s).await;
    assert!(
        play.starts_with("RTSP/1.0 200") && play.contains("RTP-Info: "),
        "{play}"
    );
    let mut reader = s;
    let mut frames = 0;
    let mut payload = vec![0u8; 65_536];
    let deadline = Instant::now() + run_for;
    let _ = tokio::time::timeout_at(deadline, async {
        loop {
            let mut hdr = [0u8; 4];
            reader.read_exact(&mut hdr).await.unwrap();
            assert_eq!(hdr[0], b'$', "interleaved framing");
            let len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
            reader.read_exact(&mut payload[..len]).await.unwrap();
            if hdr[1] == 0 && payload[1] & 0x80 != 0 {
                frames += 1;
            }
        }
    })
    .await;
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sessions_smoke() {
    let sessions = 200;
    let cameras = 50;
    let sim = start(vtest_opts(cameras).await).await;
    let addr = sim.local_addr();
    let run_for = Duration::from_secs(3);
    let tasks: Vec<_> = (0..sessions)
        .map(|i| tokio::spawn(raw_session(addr, i % cameras, run_for)))
        .collect();
    let mut counts = vec![];
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort_unstable();
    let total: usize = counts.iter().sum();
    // 3 s at 25 fps is 75 frames; the bound only catches sessions that starve or never start.
    assert!(
        counts[0] >= 20,
        "slowest session got {} frames; all: {counts:?}",
        counts[0]
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let stats = sim.stats();
    assert!(
        stats.frames_sent as usize >= total,
        "{stats:?} vs {total} received"
    );
    eprintln!(
        "200 sessions x 3 s: {total} frames, min {} max {}",
        counts[0],
        counts[sessions - 1]
    );
}

/// Skips interleaved frames until the next RTSP response, and returns it.
async fn next_response(s: &mut BufReader<TcpStream>) -> String {
    let mut payload = vec![0u8; 65_536];
    loop {
        let buf = s.fill_buf().await.unwrap();
        assert!(!buf.is_empty(), "EOF before response");
        if buf[0] != b'$' {
            return read_response(s).await;
        }
        let mut hdr = [0u8; 4];
        s.read_exact(&mut hdr).await.unwrap();
        let len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        s.read_exact(&mut payload[..len]).await.unwrap();
    }
}

/// SETUP + PLAY on a raw connection; returns the reader and the session id.
async fn raw_play(s: &mut BufReader<TcpStream>, addr: std::net::SocketAddr) -> String {
    let url = format!("rtsp://{addr}/cam/0");
    s.write_all(
        format!(
            "SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n\
             Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let setup = read_response(s).await;
    assert!(setup.contains(";timeout=60"), "{setup}");
    let id = setup
        .lines()
        .find_map(|l| l.strip_prefix("Session: "))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    s.write_all(format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {id}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert!(read_response(s).await.starts_with("RTSP/1.0 200"));
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_and_teardown_while_streaming() {
    let sim = start(vtest_opts(1).await).await;
    let addr = sim.local_addr();
    let mut s = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let id = raw_play(&mut s, addr).await;
    let url = format!("rtsp://{addr}/cam/0");
    s.write_all(
        format!("GET_PARAMETER {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {id}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let resp = next_response(&mut s).await;
    assert!(
        resp.starts_with("RTSP/1.0 200") && resp.contains("CSeq: 3"),
        "{resp}"
    );
    assert_eq!(sim.stats().sessions_playing, 1);
    s.write_all(format!("TEARDOWN {url} RTSP/1.0\r\nCSeq: 4\r\nSession: {id}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let resp = next_response(&mut s).await;
    assert!(
        resp.starts_with("RTSP/1.0 200") && resp.contains("CSeq: 4"),
        "{resp}"
    );
    let mut rest = vec![];
    let n = timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
        .await
        .expect("server closes after TEARDOWN")
        .unwrap();
    assert_eq!(n, 0, "nothing after the TEARDOWN response");
    assert_eq!(sim.stats().sessions_playing, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_client_loses_whole_gops_and_resumes_at_a_keyframe() {
    let mut opts = vtest_opts(1).await;
    opts.send_buffer_bytes = 32 * 1024;
    let sim = start(opts).await;
    let addr = sim.local_addr();
    // A tiny receive window makes "the client stopped reading" visible within a second or two.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = BufReader::new(socket.connect(addr).await.unwrap());
    raw_play(&mut s, addr).await;
    tokio::time::sleep(Duration::from_secs(4)).await; // not reading
    let mut payload = vec![0u8; 65_536];
    let mut last_seq: Option<u16> = None;
    let mut gap_first_nal = None;
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline && gap_first_nal.is_none() {
        let mut hdr = [0u8; 4];
        timeout(Duration::from_secs(3), s.read_exact(&mut hdr))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(hdr[0], b'$', "framing stays intact");
        let len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        s.read_exact(&mut payload[..len]).await.unwrap();
        if hdr[1] != 0 {
            continue; // RTCP
        }
        let seq = u16::from_be_bytes([payload[2], payload[3]]);
        if let Some(prev) = last_seq
            && seq != prev.wrapping_add(1)
        {
            // First packet after the loss: the payload's NAL type (FU-A: the fragment's).
            let nal = payload[12] & 0x1f;
            gap_first_nal = Some(if nal == 28 { payload[13] & 0x1f } else { nal });
        }
        last_seq = Some(seq);
    }
    let nal = gap_first_nal.unwrap_or_else(|| {
        panic!(
            "no sequence gap after the client stalled: {:?}",
            sim.stats()
        )
    });
    assert!(
        matches!(nal, 5 | 7),
        "after the loss the stream resumes at an IDR (SPS or IDR slice), got NAL type {nal}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        sim.stats().frames_dropped_slow_client > 0,
        "{:?}",
        sim.stats()
    );
}
