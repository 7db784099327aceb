//! Camera simulator: a lean RTSP server that replays a pre-encoded H.264 or H.265 clip as N
//! independent live cameras at `rtsp://HOST:PORT/cam/{i}` used by the tests, `./xl demo` and the benchmarks;
//! its own binary is `xueliang-camsim`, and `xueliang camsim` forwards to [`cli::run`].
//!
//! Design decisions:
//! - **Replay, never encode.** The clip (a preset made once by ffmpeg, see [`clip`], or any
//!   Annex B `.h264`/`.h265` file) is parsed and packetized into RTP payloads at start
//!   ([`packetize`], RFC 6184 or RFC 7798, the codec told from the bytes);
//!   every TCP session shares those bytes and only writes its own 16-byte interleave+RTP
//!   headers (a UDP session copies each packet into its datagram).
//! - **RTP over the RTSP TCP connection** (`RTP/AVP/TCP;interleaved`, ingest's default) **or
//!   over UDP unicast** (`RTP/AVP`, from a consecutive server port pair); multicast and SRTP
//!   SETUPs get `461 Unsupported Transport`. One tokio task per connection does RTSP, pacing
//!   and writing, with no per-session channels or extra tasks, because the target is 2,000+
//!   sessions on a 2-core machine that also runs the client. (GStreamer's RTSP server was
//!   measured on that machine kind: one shared live mount puts every camera's keyframe at the
//!   same instant, and a pipeline per camera costs ~0.43 % of a core and ~5 threads each.)
//! - **Cameras are clocks** ([`schedule`]): each camera's timeline is fixed at server start with
//!   a phase spread over the GOP, so keyframes of N cameras arrive evenly spread, and a session
//!   starts with the IDR of the GOP on air and joins the camera's cadence at its next IDR.
//! - **Slow clients cost a bounded amount.** A TCP session holds at most one frame in flight; if
//!   the kernel has not taken it by the next tick, that frame and the rest of its GOP are dropped
//!   (counted; sequence numbers still advance so the client sees the loss) and sending resumes
//!   at the next IDR, so the client can always decode what it gets. A UDP session sends each
//!   frame at once; packets the socket cannot take are lost, as on a real network.
//! - **Faults are switches** ([`Faults`]) applied per camera subset, for ingest's reliability
//!   tests: disconnects, stalls with a live control channel, corrupted slice payloads (framing
//!   stays valid), refused auth, and an SDP announcing a codec ingest cannot handle.

pub mod auth;
pub mod cli;
pub mod clip;
pub mod h264;
pub mod h265;
pub mod packetize;
mod rtsp;
mod schedule;
mod session;
mod stats;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, HealthThresholds, Sampling, Transport};
use xueliang_core::contract::{GeoPoint, OwnerTier};
use xueliang_core::shutdown::Shutdown;

pub use auth::{Auth, AuthScheme};
pub use clip::{
    ClipError, ClipPreset, default_cache_dir, ensure_clip, ensure_clip_in, resolve_clip,
};
pub use packetize::{ClipInfo, LoadError, PacketizedClip};
pub use stats::CamsimStats;

use schedule::WallClock;
use stats::Stats;

/// Default RTSP port of the `xueliang camsim` command.
pub const DEFAULT_PORT: u16 = 8554;
/// Default [`CamsimOptions::send_buffer_bytes`]: 256 KiB (512 KiB effective) holds several
/// seconds of 360p or about a second of 1080p, like a camera's socket, and caps the memory a
/// stalled client can pin at ~0.5 MiB.
pub const DEFAULT_SEND_BUFFER: u32 = 256 * 1024;

/// What to serve and how.
#[derive(Debug, Clone)]
pub struct CamsimOptions {
    /// Number of cameras: paths `/cam/0` … `/cam/{cameras-1}`.
    pub cameras: usize,
    /// Address to listen on; port 0 picks a free port (see [`CamsimHandle::local_addr`]).
    pub listen: SocketAddr,
    /// H.264 or H.265 Annex B file to replay (see [`resolve_clip`] for presets).
    pub clip: PathBuf,
    /// Frames per second; default: the clip's VUI timing, else 25.
    pub fps: Option<f32>,
    /// Credentials every request except OPTIONS must carry; `None` = open.
    pub auth: Option<Auth>,
    /// Kernel send buffer per connection (`SO_SNDBUF`; Linux doubles it). Bounds how much video
    /// queues for a client that stopped reading before whole GOPs get dropped; 0 keeps kernel
    /// autotuning (up to `tcp_wmem` max, 4 MiB here: ~40 s of 360p before any drop).
    pub send_buffer_bytes: u32,
    pub faults: Faults,
}

impl CamsimOptions {
    /// `cameras` cameras replaying `clip` on `127.0.0.1:0`, no auth, no faults.
    pub fn new(cameras: usize, clip: impl Into<PathBuf>) -> Self {
        CamsimOptions {
            cameras,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            clip: clip.into(),
            fps: None,
            auth: None,
            send_buffer_bytes: DEFAULT_SEND_BUFFER,
            faults: Faults::default(),
        }
    }
}

/// Fault switches for reliability tests. All off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Cameras the faults apply to; the others behave normally.
    pub cameras: CameraSet,
    /// Close the TCP connection this long after each PLAY.
    pub drop_every: Option<Duration>,
    /// This long after PLAY, stop sending media (RTP and RTCP) but keep the connection open and
    /// keep answering RTSP requests (keepalives succeed), as a hung encoder does.
    pub stall_after: Option<Duration>,
    /// Fraction (0..=1) of slice-data packets whose payload gets a few bytes flipped; RTP headers
    /// and interleave framing stay valid, so this exercises the decoder, not the depacketizer.
    pub corrupt_ratio: f32,
    /// Answer every request except OPTIONS with 401, whatever the credentials.
    pub refuse_auth: bool,
    /// Announce this RTP encoding name (e.g. `H265`, `MP4V-ES`) in the SDP instead of the
    /// clip's own (`H264` or `H265`), with no `fmtp` line; the payload stays the clip's.
    pub announce_codec: Option<String>,
}

/// A set of camera indices: `all`, or a list like `0,3,5-9`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CameraSet {
    #[default]
    All,
    Only(BTreeSet<usize>),
}

impl CameraSet {
    pub fn contains(&self, camera: usize) -> bool {
        match self {
            CameraSet::All => true,
            CameraSet::Only(s) => s.contains(&camera),
        }
    }
}

impl FromStr for CameraSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(CameraSet::All);
        }
        let mut set = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("bad camera list item {part:?}; expected N or N-M (e.g. 0,3,5-9)");
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (usize, usize) = (
                        a.trim().parse().map_err(|_| bad())?,
                        b.trim().parse().map_err(|_| bad())?,
                    );
                    if a > b || b - a > 1_000_000 {
                        return Err(bad());
                    }
                    set.extend(a..=b);
                }
                None => {
                    set.insert(part.parse().map_err(|_| bad())?);
                }
            }
        }
        if set.is_empty() {
            return Err("empty camera list; use `all` or e.g. 0,3,5-9".into());
        }
        Ok(CameraSet::Only(set))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CamsimError {
    #[error("invalid camsim option: {0}")]
    InvalidOption(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("camsim cannot listen on {addr}: {source} (pick another --port, or 0 for any)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// State shared by the accept loop and every session.
pub(crate) struct Server {
    clip: PacketizedClip,
    cameras: usize,
    fps: f64,
    auth: Option<Auth>,
    faults: Faults,
    nonce: String,
    epoch: Instant,
    wall: WallClock,
    stats: Stats,
    stop: Shutdown,
    seed: u64,
}

/// A running simulator. Dropping it stops accepting and ends every session.
pub struct CamsimHandle {
    server: Arc<Server>,
    local_addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl CamsimHandle {
    /// The bound address (the real port when listening on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `rtsp://ADDR/cam/{camera}`; an unspecified listen address is written as 127.0.0.1.
    pub fn url(&self, camera: usize) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        format!("rtsp://{addr}/cam/{camera}")
    }

    pub fn cameras(&self) -> usize {
        self.server.cameras
    }

    /// The frame rate sessions are paced at.
    pub fn fps(&self) -> f64 {
        self.server.fps
    }

    pub fn clip_info(&self) -> &ClipInfo {
        self.server.clip.info()
    }

    /// Counters; frame and byte counts lag by up to about a second.
    pub fn stats(&self) -> CamsimStats {
        self.server.stats.snapshot()
    }

    /// Stops accepting, ends every session, and waits (up to 2 s) for their connections to close.
    pub async fn stop(mut self) {
        self.server.stop.trigger();
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.server.stats.snapshot().connections_active > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for CamsimHandle {
    fn drop(&mut self) {
        self.server.stop.trigger();
    }
}

/// Loads the clip, binds the listener and starts serving on the current tokio runtime.
pub async fn start(opts: CamsimOptions) -> Result<CamsimHandle, CamsimError> {
    if opts.cameras == 0 {
        return Err(CamsimError::InvalidOption(
            "--cameras must be at least 1".into(),
        ));
    }
    if !(0.0..=1.0).contains(&opts.faults.corrupt_ratio) {
        return Err(CamsimError::InvalidOption(format!(
            "--corrupt-ratio {} must be between 0 and 1",
            opts.faults.corrupt_ratio
        )));
    }
    if let Some(fps) = opts.fps
        && !(fps > 0.0 && fps <= 240.0)
    {
        return Err(CamsimError::InvalidOption(format!(
            "--fps {fps} must be in (0, 240]"
        )));
    }
    for (name, d) in [
        ("--drop-every", opts.faults.drop_every),
        ("--stall-after", opts.faults.stall_after),
    ] {
        if d.is_some_and(|d| d.is_zero()) {
            return Err(CamsimError::InvalidOption(format!(
                "{name} must be positive"
            )));
        }
    }
    if let Some(codec) = &opts.faults.announce_codec
        && (codec.is_empty()
            || !codec
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        return Err(CamsimError::InvalidOption(format!(
            "--announce-codec {codec:?} must be an RTP encoding name like H265 or MP4V-ES"
        )));
    }

    let path = opts.clip.clone();
    let clip = tokio::task::spawn_blocking(move || PacketizedClip::load(&path))
        .await
        .map_err(|e| CamsimError::InvalidOption(format!("clip loader panicked: {e}")))??;
    let fps = opts
        .fps
        .map(f64::from)
        .or(clip
            .info()
            .fps_in_stream
            .filter(|f| *f > 0.0 && *f <= 240.0))
        .unwrap_or(25.0);

    let listener =
        bind(opts.listen, opts.send_buffer_bytes).map_err(|source| CamsimError::Bind {
            addr: opts.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| CamsimError::Bind {
        addr: opts.listen,
        source,
    })?;
    let seed = session::random_seed();
    let server = Arc::new(Server {
        cameras: opts.cameras,
        fps,
        auth: opts.auth,
        faults: opts.faults,
        nonce: format!("{:016x}", session::Rng::new(seed).next_u64()),
        epoch: Instant::now(),
        wall: WallClock::now(),
        stats: Stats::new(),
        stop: Shutdown::new(),
        seed,
        clip,
    });
    let info = server.clip.info();
    tracing::info!(
        addr = %local_addr,
        cameras = server.cameras,
        clip = %info.path.display(),
        codec = ?info.codec,
        width = info.width,
        height = info.height,
        frames = info.frames,
        gop = info.max_gop,
        fps,
        auth = server.auth.is_some(),
        "camsim listening"
    );
    let accept = tokio::spawn(accept_loop(server.clone(), listener));
    Ok(CamsimHandle {
        server,
        local_addr,
        accept: Some(accept),
    })
}

/// Serves until `shutdown` triggers, then stops the simulator. Logs a one-line summary of the
/// counters every [`SUMMARY_EVERY`].
pub async fn run_until(handle: CamsimHandle, shutdown: Shutdown) {
    let mut summary = tokio::time::interval_at(Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    let mut last = handle.stats();
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = summary.tick() => {
                let now = handle.stats();
                let secs = SUMMARY_EVERY.as_secs_f64();
                tracing::info!(
                    connections = now.connections_active,
                    playing = now.sessions_playing,
                    frames_per_s = ((now.frames_sent - last.frames_sent) as f64 / secs).round(),
                    mbit_per_s = ((now.bytes_sent - last.bytes_sent) as f64 * 8e-6 / secs * 10.0).round() / 10.0,
                    dropped_slow_client = now.frames_dropped_slow_client - last.frames_dropped_slow_client,
                    dropped_server_late = now.frames_dropped_server_late - last.frames_dropped_server_late,
                    "camsim summary"
                );
                last = now;
            }
        }
    }
    handle.stop().await;
}

/// How often [`run_until`] logs its summary line.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(30);

/// Parses a CLI duration: `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds (`2.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?}; expected e.g. 500ms, 30s, 2m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?}; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {s:?}"))
}

/// Binds with `SO_SNDBUF` on the listening socket: Linux copies it to every accepted socket,
/// which is the only way to set it with tokio's API before the first byte is sent.
fn bind(addr: SocketAddr, send_buffer: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if send_buffer > 0 {
        socket.set_send_buffer_size(send_buffer)?;
    }
    socket.bind(addr)?;
    // Load tests open thousands of sessions at once.
    socket.listen(4096)
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    let stop = server.stop.clone();
    let mut conn_no = 0u64;
    loop {
        tokio::select! {
            _ = stop.wait() => break,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    conn_no += 1;
                    tokio::spawn(session::serve(server.clone(), stream, peer, conn_no));
                }
                Err(e) => {
                    // Typically EMFILE under load tests: back off instead of spinning.
                    tracing::warn!(error = %e, "camsim accept failed; raise `ulimit -n` for more sessions");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// A camera entry pointing at `url` with defaults for everything else (tests and benches: ingest
/// pointed at a simulated camera).
pub fn camera_config(id: &str, url: &str, sampling: Sampling) -> CameraConfig {
    CameraConfig {
        id: CameraId::new(id).expect("bench camera ids are valid"),
        name: format!("bench camera {id}"),
        url: url.to_string(),
        credentials: None,
        transport: Transport::Tcp,
        location: GeoPoint {
            lat: 22.54,
            lon: 114.05,
        },
        grid: None,
        tier: OwnerTier::Police,
        tags: vec![],
        desk_override: None,
        sampling,
        enabled: true,
        health: HealthThresholds {
            video_loss: Duration::from_secs(10),
            frozen: Duration::from_secs(30),
            covered: Duration::from_secs(10),
            dark_luma: 16,
        },
        rules: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("3 days").is_err());
    }

    #[test]
    fn camera_sets() {
        assert_eq!("all".parse::<CameraSet>(), Ok(CameraSet::All));
        let s: CameraSet = "0, 3,5-7".parse().unwrap();
        assert_eq!(s, CameraSet::Only([0, 3, 5, 6, 7].into()));
        assert!(s.contains(6) && !s.contains(4));
        assert!("7-5".parse::<CameraSet>().is_err());
        assert!("x".parse::<CameraSet>().is_err());
        assert!("".parse::<CameraSet>().is_err());
    }
}
