//! One RTSP client session per camera (issue #3 part 1), as a tokio task that retries with
//! backoff until the camera is removed or the process shuts down.
//!
//! Design decisions:
//! - **retina does the protocol**: DESCRIBE/SETUP/PLAY, Basic and Digest auth, TCP-interleaved
//!   (default) or UDP transport, keepalives (retina sends them while the stream is polled),
//!   depacketizing H.264/H.265 into Annex B access units with parameter sets on every keyframe
//!   (`FrameFormat::SIMPLE`), which the GStreamer parsers take as is. H.265 adds two checks
//!   ([`h265`]): RFC 7798 modes retina cannot play are refused from the SDP, and a payload that
//!   is not H.265 is reported as `unsupported_codec`.
//! - **The task is the state machine.** [`CameraState`]: `connecting` until the first frame,
//!   `streaming`, `stalled` when the session is up but no frame came for `stall_after`
//!   (keepalives may still succeed, as with a hung encoder), then after `reconnect_after_stall`
//!   the session is dropped and retried; failures become `offline`, `auth_failed` (401/403) or
//!   `unsupported_codec` with a one-line reason and a since-when.
//! - **Backoff** is jittered exponential ([`backoff::Backoff`]) and resets once a session has
//!   streamed for `healthy_after` (60 s), so a camera that drops once a day reconnects at once
//!   while a dead one is retried about once a minute.
//! - **Credentials never reach a log line or a reason.** retina gets them through its
//!   `Credentials`; logs name the config's credential-free `url`; retina's error text is cut to
//!   its first line and scrubbed of the password anyway (defence in depth); state changes are
//!   logged once, repeats of the same failure only at debug level.
//! - **Never blocks on decode.** Encoded frames go to the decoder with a non-blocking
//!   `try_push`; when the camera's decoder input is full the frame is dropped and counted, and
//!   the sampler waits for the next keyframe.

pub mod backoff;
pub mod clock;
mod h265;
mod rtsp;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::gauge;
use serde::Serialize;
use xueliang_core::CameraId;
use xueliang_core::config::CameraConfig;
use xueliang_core::shutdown::Shutdown;

use crate::decode::{Codec, UnitSink};
use crate::stats::{CAMERAS, CameraCounters};
use backoff::Backoff;
pub(crate) use rtsp::SessionEnd;

/// Where a camera's session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Connecting, or connected and waiting for the first frame.
    Connecting,
    Streaming,
    /// The session is up but no frame arrived for a while.
    Stalled,
    /// The last attempt failed (network, server error, stream ended); retrying with backoff.
    Offline,
    /// The camera refused the credentials (or none were configured); retrying with backoff.
    AuthFailed,
    /// The camera offers no H.264/H.265 video; retrying with backoff in case it is reconfigured.
    UnsupportedCodec,
    /// `enabled = false` in the inventory: no session.
    Disabled,
}

impl CameraState {
    pub const ALL: [CameraState; 7] = [
        CameraState::Connecting,
        CameraState::Streaming,
        CameraState::Stalled,
        CameraState::Offline,
        CameraState::AuthFailed,
        CameraState::UnsupportedCodec,
        CameraState::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Connecting => "connecting",
            CameraState::Streaming => "streaming",
            CameraState::Stalled => "stalled",
            CameraState::Offline => "offline",
            CameraState::AuthFailed => "auth_failed",
            CameraState::UnsupportedCodec => "unsupported_codec",
            CameraState::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for CameraState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A camera's state for `/healthz` and the desk's camera list.
#[derive(Debug, Clone, Serialize)]
pub struct CameraStatus {
    pub id: CameraId,
    pub name: String,
    pub state: CameraState,
    /// Why the camera is in this state (for failures), one line, never a credential.
    pub reason: Option<String>,
    /// When the camera entered this state.
    pub since: DateTime<Utc>,
    pub codec: Option<Codec>,
    /// Picture size announced by the stream.
    pub resolution: Option<(u32, u32)>,
    /// When the last encoded frame arrived (for video-loss rules).
    pub last_frame_at: Option<DateTime<Utc>>,
    pub reconnects: u64,
}

/// Timing of sessions; [`Default`] holds production values.
#[derive(Debug, Clone)]
pub struct SessionTuning {
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A session that streamed this long resets the backoff.
    pub healthy_after: Duration,
    /// Limit for DESCRIBE + SETUP + PLAY.
    pub connect_timeout: Duration,
    /// No frame for this long → `stalled`.
    pub stall_after: Duration,
    /// No frame for this long → drop the session and reconnect.
    pub reconnect_after_stall: Duration,
    pub user_agent: String,
}

impl Default for SessionTuning {
    fn default() -> Self {
        SessionTuning {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            stall_after: Duration::from_secs(5),
            reconnect_after_stall: Duration::from_secs(20),
            user_agent: concat!("xueliang/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

struct StatusInner {
    state: CameraState,
    reason: Option<String>,
    since: DateTime<Utc>,
    codec: Option<Codec>,
    resolution: Option<(u32, u32)>,
}

/// A camera in the running set: its config, counters, state and stop switch.
pub(crate) struct CameraRuntime {
    pub(crate) config: CameraConfig,
    pub(crate) counters: Arc<CameraCounters>,
    pub(crate) stop: Shutdown,
    status: Mutex<StatusInner>,
}

impl CameraRuntime {
    pub(crate) fn new(config: CameraConfig, counters: Arc<CameraCounters>) -> Arc<CameraRuntime> {
        let state = if config.enabled {
            CameraState::Connecting
        } else {
            CameraState::Disabled
        };
        gauge!(CAMERAS, "state" => state.as_str()).increment(1.0);
        Arc::new(CameraRuntime {
            config,
            counters,
            stop: Shutdown::new(),
            status: Mutex::new(StatusInner {
                state,
                reason: None,
                since: Utc::now(),
                codec: None,
                resolution: None,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StatusInner> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the state; returns whether state or reason changed (callers log only then).
    pub(crate) fn set_state(&self, state: CameraState, reason: Option<String>) -> bool {
        let mut s = self.lock();
        if s.state == state && s.reason == reason {
            return false;
        }
        if s.state != state {
            gauge!(CAMERAS, "state" => s.state.as_str()).decrement(1.0);
            gauge!(CAMERAS, "state" => state.as_str()).increment(1.0);
            self.counters.set_streaming(state == CameraState::Streaming);
            s.since = Utc::now();
        }
        s.state = state;
        s.reason = reason;
        true
    }

    pub(crate) fn set_stream_info(&self, codec: Codec, resolution: Option<(u32, u32)>) {
        let mut s = self.lock();
        s.codec = Some(codec);
        if resolution.is_some() {
            s.resolution = resolution;
        }
    }

    /// Leaves the running set: stop the task and take the camera out of the state gauge.
    pub(crate) fn retire(&self) {
        self.stop.trigger();
        let s = self.lock();
        gauge!(CAMERAS, "state" => s.state.as_str()).decrement(1.0);
        self.counters.set_streaming(false);
    }

    pub(crate) fn status(&self) -> CameraStatus {
        let s = self.lock();
        CameraStatus {
            id: self.config.id.clone(),
            name: self.config.name.clone(),
            state: s.state,
            reason: s.reason.clone(),
            since: s.since,
            codec: s.codec,
            resolution: s.resolution,
            last_frame_at: self.counters.last_received_at(),
            reconnects: self.counters.reconnects.get(),
        }
    }

    /// Removes the password from text that may have come from a peer or a library.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let first_line = text.lines().next().unwrap_or("").trim();
        match &self.config.credentials {
            Some(c) if c.password.expose().len() >= 3 => {
                first_line.replace(c.password.expose(), "***")
            }
            _ => first_line.to_string(),
        }
    }
}

/// Runs `cam`'s sessions until its stop switch or `shutdown` fires.
pub(crate) async fn run_camera(
    cam: Arc<CameraRuntime>,
    sink: Arc<dyn UnitSink>,
    tuning: Arc<SessionTuning>,
    shutdown: Shutdown,
) {
    let id = cam.config.id.clone();
    let url = cam.config.url.clone();
    let mut backoff = Backoff::new(tuning.backoff_initial, tuning.backoff_max);
    let mut failed_before = false;
    // The failure last logged at WARN: the same failure again is logged at debug level only.
    let mut last_failure: Option<(CameraState, String)> = None;
    loop {
        if cam.stop.is_triggered() || shutdown.is_triggered() {
            break;
        }
        // While retrying, the camera keeps showing why it failed until a frame arrives.
        if !failed_before {
            cam.set_state(CameraState::Connecting, None);
        }
        tracing::debug!(camera = %id, url = %url, "connecting");
        let outcome = tokio::select! {
            _ = cam.stop.wait() => break,
            _ = shutdown.wait() => break,
            o = rtsp::stream_once(&cam, &*sink, &tuning, failed_before) => o,
        };
        if outcome.streamed >= tuning.healthy_after {
            backoff.reset();
        }
        if !outcome.streamed.is_zero() {
            last_failure = None;
        }
        failed_before = true;
        let delay = backoff.next_delay();
        let (state, reason) = match &outcome.end {
            SessionEnd::AuthFailed(r) => (CameraState::AuthFailed, r.clone()),
            SessionEnd::Unsupported(r) => (CameraState::UnsupportedCodec, r.clone()),
            SessionEnd::Failed(r) => (CameraState::Offline, r.clone()),
            SessionEnd::Stalled(d) => (
                CameraState::Offline,
                format!("no frame for {} s; reconnecting", d.as_secs()),
            ),
            SessionEnd::Closed => (
                CameraState::Offline,
                "the camera closed the stream".to_string(),
            ),
        };
        let reason = cam.scrub(&reason);
        cam.set_state(state, Some(reason.clone()));
        let failure = Some((state, reason.clone()));
        if last_failure != failure {
            last_failure = failure;
            tracing::warn!(camera = %id, url = %url, state = %state, reason = %reason,
                retry_in_ms = delay.as_millis() as u64, "camera session ended");
        } else {
            tracing::debug!(camera = %id, state = %state, reason = %reason,
                retry_in_ms = delay.as_millis() as u64, "camera session failed again");
        }
        tokio::select! {
            _ = cam.stop.wait() => break,
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    tracing::debug!(camera = %id, "camera task stopped");
}
