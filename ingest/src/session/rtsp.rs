//! One RTSP session with retina: connect, pick the video stream, play, and feed frames to the
//! decoder until something ends it. Returns why it ended; the caller owns state and backoff.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt as _;
use retina::client::{
    Credentials, InitialTimestampPolicy, PlayOptions, Session, SessionOptions, SetupOptions,
    TcpTransportOptions, TeardownPolicy, Transport, UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};
use xueliang_core::config::Transport as CameraTransport;

use super::clock::SrClock;
use super::h265;
use super::{CameraRuntime, CameraState, SessionTuning};
use crate::decode::{Codec, EncodedUnit, UnitSink};
use crate::sampler::{Admit, Gate};
use crate::stats::DropReason;

/// Why a session ended. Reasons are raw (the caller scrubs them).
#[derive(Debug, Clone)]
pub(crate) enum SessionEnd {
    AuthFailed(String),
    Unsupported(String),
    Failed(String),
    /// No frame for this long.
    Stalled(Duration),
    Closed,
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub end: SessionEnd,
    /// How long the session delivered frames (first frame to end); zero if none arrived.
    pub streamed: Duration,
}

impl Outcome {
    fn early(end: SessionEnd) -> Outcome {
        Outcome {
            end,
            streamed: Duration::ZERO,
        }
    }
}

fn classify(e: &retina::Error) -> SessionEnd {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").to_string();
    match e.status_code() {
        Some(401) if first.contains("no credentials") => SessionEnd::AuthFailed(
            "the camera requires credentials and none are configured (401)".into(),
        ),
        Some(401) => {
            SessionEnd::AuthFailed("the camera refused the configured credentials (401)".into())
        }
        Some(403) => SessionEnd::AuthFailed("the camera denied access (403 Forbidden)".into()),
        Some(404) => SessionEnd::Failed("no such stream on the camera (404)".into()),
        _ => SessionEnd::Failed(first),
    }
}

async fn within<T>(
    limit: Duration,
    what: &str,
    f: impl Future<Output = Result<T, retina::Error>>,
) -> Result<T, SessionEnd> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(classify(&e)),
        Err(_) => Err(SessionEnd::Failed(format!(
            "no answer to {what} within {} s",
            limit.as_secs_f32()
        ))),
    }
}

/// Runs one session to its end. `retry`: an earlier session or attempt failed, so reaching
/// PLAY counts as a reconnect.
pub(crate) async fn stream_once(
    cam: &CameraRuntime,
    sink: &dyn UnitSink,
    tuning: &SessionTuning,
    retry: bool,
) -> Outcome {
    let cfg = &cam.config;
    let url = match url::Url::parse(&cfg.url) {
        Ok(u) => u,
        Err(e) => return Outcome::early(SessionEnd::Failed(format!("invalid URL: {e}"))),
    };
    let creds = cfg.credentials.as_ref().map(|c| Credentials {
        username: c.username.clone(),
        password: c.password.expose().to_string(),
    });
    let options = SessionOptions::default()
        .creds(creds)
        .user_agent(tuning.user_agent.clone())
        .teardown(TeardownPolicy::Auto);
    let connect = async {
        let mut session = within(
            tuning.connect_timeout,
            "DESCRIBE",
            Session::describe(url, options),
        )
        .await?;
        let video = session.streams().iter().position(|s| s.media() == "video");
        let Some(index) = video else {
            return Err(SessionEnd::Unsupported(
                "the stream has no video track".into(),
            ));
        };
        let encoding = session.streams()[index].encoding_name().to_string();
        let Some(codec) = Codec::from_encoding_name(&encoding) else {
            return Err(SessionEnd::Unsupported(format!(
                "video codec {encoding} is not supported (H.264 and H.265 are)"
            )));
        };
        if codec == Codec::H265
            && let Some(reason) = h265::unsupported_sdp_mode(
                session.sdp(),
                session.streams()[index].rtp_payload_type(),
            )
        {
            return Err(SessionEnd::Unsupported(reason));
        }
        let clock_rate = session.streams()[index].clock_rate_hz();
        let transport = match cfg.transport {
            CameraTransport::Tcp => Transport::Tcp(TcpTransportOptions::default()),
            CameraTransport::Udp => Transport::Udp(UdpTransportOptions::default()),
        };
        within(
            tuning.connect_timeout,
            "SETUP",
            session.setup(
                index,
                SetupOptions::default()
                    .transport(transport)
                    .frame_format(FrameFormat::SIMPLE),
            ),
        )
        .await?;
        // One stream: NPT from the first packet; RTP-Info's rtptime is often wrong on cameras.
        let playing = within(
            tuning.connect_timeout,
            "PLAY",
            session.play(PlayOptions::default().initial_timestamp(InitialTimestampPolicy::Ignore)),
        )
        .await?;
        let demuxed = playing.demuxed().map_err(|e| {
            SessionEnd::Unsupported(format!(
                "{encoding} stream cannot be depacketized: {}",
                e.to_string().lines().next().unwrap_or("")
            ))
        })?;
        Ok((demuxed, index, codec, clock_rate))
    };
    let (mut demuxed, index, codec, clock_rate) = match connect.await {
        Ok(v) => v,
        Err(end) => return Outcome::early(end),
    };
    if retry {
        cam.counters.reconnects.add(1);
    }
    let resolution = match demuxed.streams()[index].parameters() {
        Some(ParametersRef::Video(v)) => Some(v.pixel_dimensions()),
        _ => None,
    };
    cam.set_stream_info(codec, resolution);

    let mut input = sink.open(&cfg.id, codec, cfg.sampling, cam.counters.clone());
    let mut gate = Gate::new(cfg.sampling);
    let mut clock = SrClock::new(clock_rate);
    let mut first_frame: Option<Instant> = None;
    let mut last_frame = Instant::now();
    let mut stalled = false;
    let streamed = |first: Option<Instant>| first.map_or(Duration::ZERO, |t| t.elapsed());
    loop {
        let wait = if stalled {
            tuning.reconnect_after_stall
        } else {
            tuning.stall_after
        };
        let item = match tokio::time::timeout_at((last_frame + wait).into(), demuxed.next()).await {
            Ok(item) => item,
            Err(_) if !stalled => {
                stalled = true;
                let reason = format!("no frame for {} s", tuning.stall_after.as_secs_f32());
                if cam.set_state(CameraState::Stalled, Some(reason.clone())) {
                    tracing::warn!(camera = %cfg.id, url = %cfg.url, reason = %reason, "camera stalled");
                }
                continue;
            }
            Err(_) => {
                return Outcome {
                    end: SessionEnd::Stalled(last_frame.elapsed()),
                    streamed: streamed(first_frame),
                };
            }
        };
        match item {
            Some(Ok(CodecItem::VideoFrame(frame))) => {
                let now = Instant::now();
                let wall = Utc::now();
                last_frame = now;
                if first_frame.is_none() || stalled {
                    first_frame.get_or_insert(now);
                    stalled = false;
                    if cam.set_state(CameraState::Streaming, None) {
                        let res = demuxed.streams()[index].parameters().and_then(|p| match p {
                            ParametersRef::Video(v) => Some(v.pixel_dimensions()),
                            _ => None,
                        });
                        if res.is_some() {
                            cam.set_stream_info(codec, res);
                        }
                        tracing::info!(camera = %cfg.id, url = %cfg.url, ?codec,
                            resolution = ?res, sampling = ?cfg.sampling, "camera streaming");
                    }
                }
                cam.counters.frame_received(frame.data().len(), wall);
                let ts = frame.timestamp();
                // Exact integer nanoseconds: the decoder matches pictures to frames by PTS.
                let ticks = u128::try_from(ts.elapsed()).unwrap_or(0);
                let pts = Duration::from_nanos(
                    (ticks * 1_000_000_000 / u128::from(clock_rate.max(1))) as u64,
                );
                let keyframe = frame.is_random_access_point();
                match gate.admit(keyframe, frame.loss() > 0, pts) {
                    Admit::Decode => {
                        let (captured_at, capture_clock) = clock.capture_time(ts.timestamp(), wall);
                        let unit = EncodedUnit {
                            data: frame.into_data(),
                            pts,
                            keyframe,
                            received_at: now,
                            captured_at,
                            capture_clock,
                        };
                        if input.try_push(unit).is_err() {
                            cam.counters.dropped(DropReason::DecoderBusy);
                            gate.resync();
                        }
                    }
                    Admit::NotSampled => {}
                    Admit::WaitingForKeyframe => cam.counters.dropped(DropReason::WaitingKeyframe),
                }
            }
            Some(Ok(CodecItem::Rtcp(rtcp))) => {
                if let (Some(ts), Some(Ok(Some(sr)))) = (
                    rtcp.rtp_timestamp(),
                    rtcp.pkts().next().map(|p| p.as_sender_report()),
                ) {
                    clock.observe(ts.timestamp(), sr.ntp_timestamp().0);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let text = e.to_string();
                let end = if codec == Codec::H265
                    && first_frame.is_none()
                    && h265::is_payload_error(&text)
                {
                    SessionEnd::Unsupported(format!(
                        "the camera announces H265 but its RTP payload is not H.265 (RFC 7798): {}",
                        text.lines().next().unwrap_or("")
                    ))
                } else {
                    classify(&e)
                };
                return Outcome {
                    end,
                    streamed: streamed(first_frame),
                };
            }
            None => {
                return Outcome {
                    end: SessionEnd::Closed,
                    streamed: streamed(first_frame),
                };
            }
        }
    }
}
