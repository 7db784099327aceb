//! One RTSP connection: requests, pacing, and writing RTP/RTCP (interleaved on the connection,
//! or as UDP datagrams when the client asks for RTP/AVP over UDP), in a single task.
//!
//! Design decisions:
//! - **One task, no channels.** The task waits on whichever comes first: client bytes (requests,
//!   RTCP receiver reports), socket writability (only while output is pending), the next frame
//!   tick, or shutdown. Nothing else runs per session, which is what makes thousands of sessions
//!   per core possible.
//! - **Zero-copy writes (TCP).** A frame goes out as one `writev`: per-packet 16-byte headers
//!   from a reusable session buffer interleaved with slices of the shared clip payloads. Only
//!   packets hit by the corruption fault are copied. Over UDP each packet is copied into one
//!   datagram.
//! - **Never interleave inside a message.** RTSP responses and RTCP reports wait in a small control
//!   buffer until the frame being written is complete; a frame is never split by other bytes.
//! - **At most one frame in flight** over TCP (see the slow-client policy in the module doc of
//!   `camsim`).
//! - **Timestamps are the camera's clock**: RTP time advances exactly 90 kHz / fps per tick, and
//!   each RTCP sender report (about once a second) pairs a frame's RTP time with the wall-clock
//!   instant it was scheduled for, so clients can recover capture time.

use std::hash::{BuildHasher, RandomState};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Server;
use super::packetize::{FrameRef, PacketizedClip};
use super::rtsp::{self, Parsed, Request};
use super::schedule::CameraClock;
use super::stats::Pending;

/// `Session` header timeout we announce; retina sends keepalives at half of it.
const SESSION_TIMEOUT_S: u32 = 60;
/// iovecs per `writev` call (Linux allows 1024; 128 covers a 1080p IDR in two calls).
const MAX_IOV: usize = 128;
/// A session this far behind its schedule skips ahead instead of bursting to catch up.
const MAX_LATENESS: Duration = Duration::from_secs(1);
/// Unsent RTSP responses beyond this mean the client sends requests but does not read.
const MAX_CONTROL_BACKLOG: usize = 64 * 1024;
/// How often counters are published and an RTCP sender report is sent.
const REPORT_EVERY: Duration = Duration::from_secs(1);

pub(crate) fn random_seed() -> u64 {
    RandomState::new().hash_one(SystemTime::now())
}

/// SplitMix64: plenty for SSRCs, sequence starts and fault dice; no dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

pub(crate) async fn serve(server: Arc<Server>, stream: TcpStream, peer: SocketAddr, conn_no: u64) {
    let _ = stream.set_nodelay(true);
    server.stats.connection_opened();
    let mut conn = Conn::new(&server, peer, conn_no);
    let result = conn.run(&stream, &server).await;
    if conn.play.is_some() {
        server.stats.playing(false);
    }
    server.stats.publish(&mut conn.pending);
    server.stats.connection_closed();
    match result {
        Ok(reason) => {
            tracing::debug!(%peer, camera = ?conn.camera, reason, "camsim connection closed")
        }
        Err(e) => {
            tracing::debug!(%peer, camera = ?conn.camera, error = %e, "camsim connection ended")
        }
    }
}

struct Setup {
    camera: usize,
    channel: u8,
    session_id: String,
    ssrc: u32,
    track_url: String,
    /// Set for RTP/AVP over UDP; `None` for TCP interleaved.
    udp: Option<UdpOut>,
}

/// The server's RTP/RTCP socket pair of a UDP session (consecutive ports, RTCP = RTP + 1, as
/// clients such as retina assume) and where to send.
struct UdpOut {
    rtp: std::net::UdpSocket,
    rtcp: std::net::UdpSocket,
    to_rtp: SocketAddr,
    to_rtcp: SocketAddr,
    /// Reused for each packet: 12-byte RTP header + payload.
    scratch: Vec<u8>,
}

impl UdpOut {
    fn bind(peer: std::net::IpAddr, client_rtp: u16, client_rtcp: u16) -> io::Result<UdpOut> {
        let any: std::net::IpAddr = if peer.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        for _ in 0..32 {
            let rtp = std::net::UdpSocket::bind((any, 0))?;
            let port = rtp.local_addr()?.port();
            let Some(next) = port.checked_add(1) else {
                continue;
            };
            let Ok(rtcp) = std::net::UdpSocket::bind((any, next)) else {
                continue;
            };
            rtp.set_nonblocking(true)?;
            rtcp.set_nonblocking(true)?;
            return Ok(UdpOut {
                rtp,
                rtcp,
                to_rtp: SocketAddr::new(peer, client_rtp),
                to_rtcp: SocketAddr::new(peer, client_rtcp),
                scratch: Vec::with_capacity(1500),
            });
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free consecutive UDP port pair",
        ))
    }

    fn server_ports(&self) -> (u16, u16) {
        let p = self.rtp.local_addr().map(|a| a.port()).unwrap_or(0);
        (p, p.wrapping_add(1))
    }
}

struct Play {
    clock: CameraClock,
    /// Next tick to send.
    k: u64,
    /// Frames behind the camera's cadence while finishing the GOP the session joined in.
    lag: usize,
    /// Send nothing until the next IDR (after a drop), counting skipped frames under this reason.
    skip_to_idr: Option<DropReason>,
    stalled: bool,
    stall_at: Option<Instant>,
    drop_at: Option<Instant>,
    next_report: Instant,
}

#[derive(Clone, Copy)]
enum DropReason {
    SlowClient,
    ServerLate,
}

struct Conn {
    peer: SocketAddr,
    rng: Rng,
    rbuf: Vec<u8>,
    out: Output,
    camera: Option<usize>,
    faulty: bool,
    setup: Option<Setup>,
    play: Option<Play>,
    seq: u16,
    /// (tick, RTP time) fixed at the first PLAY so RTP time stays continuous across PAUSE/PLAY.
    rtp_origin: Option<(u64, u32)>,
    rtp_packets: u32,
    rtp_octets: u32,
    closing: bool,
    pending: Pending,
}

/// Bytes waiting for the socket: control messages, then at most one frame.
#[derive(Default)]
struct Output {
    ctrl: Vec<u8>,
    ctrl_pos: usize,
    frame: Option<FrameRef>,
    /// 16 bytes per packet of `frame`: `$`, channel, length, then the RTP header.
    headers: Vec<u8>,
    /// Packets of `frame` whose payload the corruption fault replaced: (index in frame, bytes).
    corrupted: Vec<(usize, Vec<u8>)>,
    written: usize,
}

impl Output {
    fn is_empty(&self) -> bool {
        self.frame.is_none() && self.ctrl_pos >= self.ctrl.len()
    }

    /// Writes as much as the socket takes without blocking.
    fn flush(
        &mut self,
        stream: &TcpStream,
        clip: &PacketizedClip,
        pending: &mut Pending,
    ) -> io::Result<()> {
        loop {
            let mid_frame = self.frame.is_some() && self.written > 0;
            if !mid_frame && self.ctrl_pos < self.ctrl.len() {
                let n = nonzero(stream.try_write(&self.ctrl[self.ctrl_pos..]))?;
                let Some(n) = n else { return Ok(()) };
                self.ctrl_pos += n;
                pending.bytes += n as u64;
                if self.ctrl_pos == self.ctrl.len() {
                    self.ctrl.clear();
                    self.ctrl_pos = 0;
                }
                continue;
            }
            let Some(frame) = self.frame else {
                return Ok(());
            };
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut used = 0;
            let mut pos = 0usize;
            for (i, p) in clip.frame_packets(frame).iter().enumerate() {
                let payload = match self.corrupted.iter().find(|(j, _)| *j == i) {
                    Some((_, bytes)) => bytes.as_slice(),
                    None => clip.payload(*p),
                };
                for seg in [&self.headers[i * 16..i * 16 + 16], payload] {
                    let end = pos + seg.len();
                    if end > self.written && used < MAX_IOV {
                        iov[used] = IoSlice::new(&seg[self.written.saturating_sub(pos)..]);
                        used += 1;
                    }
                    pos = end;
                }
                if used == MAX_IOV {
                    break;
                }
            }
            let Some(n) = nonzero(stream.try_write_vectored(&iov[..used]))? else {
                return Ok(());
            };
            self.written += n;
            pending.bytes += n as u64;
            if self.written >= frame.wire_bytes as usize {
                self.frame = None;
                self.written = 0;
                pending.frames += 1;
            }
        }
    }
}

/// `Ok(None)` for WouldBlock, an error for a zero-length write (the peer is gone).
fn nonzero(r: io::Result<usize>) -> io::Result<Option<usize>> {
    match r {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

impl Conn {
    fn new(server: &Server, peer: SocketAddr, conn_no: u64) -> Self {
        let mut rng = Rng::new(server.seed ^ conn_no.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let seq = rng.next_u64() as u16;
        Conn {
            peer,
            rng,
            rbuf: Vec::with_capacity(1024),
            out: Output::default(),
            camera: None,
            faulty: false,
            setup: None,
            play: None,
            seq,
            rtp_origin: None,
            rtp_packets: 0,
            rtp_octets: 0,
            closing: false,
            pending: Pending::default(),
        }
    }

    async fn run(&mut self, stream: &TcpStream, server: &Server) -> io::Result<&'static str> {
        let stop = server.stop.clone();
        let stop = stop.wait();
        tokio::pin!(stop);
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far);
        tokio::pin!(sleep);
        let mut read_chunk = [0u8; 4096];
        loop {
            self.out.flush(stream, &server.clip, &mut self.pending)?;
            if self.closing && self.out.is_empty() {
                return Ok("teardown");
            }
            let wake = self.play.as_ref().map(|p| p.clock.tick_time(p.k));
            if let Some(t) = wake
                && sleep.deadline() != t
            {
                sleep.as_mut().reset(t);
            }
            let want_write = !self.out.is_empty();
            tokio::select! {
                biased;
                _ = &mut stop => return Ok("shutdown"),
                r = stream.writable(), if want_write => r?,
                _ = &mut sleep, if wake.is_some() => {
                    if let Some(reason) = self.on_tick(server) {
                        return Ok(reason);
                    }
                }
                r = stream.readable() => {
                    r?;
                    match stream.try_read(&mut read_chunk) {
                        Ok(0) => return Ok("client closed"),
                        Ok(n) => {
                            self.rbuf.extend_from_slice(&read_chunk[..n]);
                            self.process_input(server);
                            if self.out.ctrl.len() > MAX_CONTROL_BACKLOG {
                                // Requests keep coming but responses are not being read.
                                return Ok("control backlog overflow");
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    fn process_input(&mut self, server: &Server) {
        let mut used = 0;
        while !self.closing {
            match rtsp::parse(&self.rbuf[used..]) {
                Parsed::Incomplete => break,
                Parsed::Interleaved(n) => used += n, // RTCP receiver reports: not needed
                Parsed::Request(req, n) => {
                    used += n;
                    self.handle(server, &req);
                }
                Parsed::Invalid(why) => {
                    tracing::debug!(peer = %self.peer, why, "camsim: bad request");
                    rtsp::write_response(&mut self.out.ctrl, 400, None, &[], None);
                    self.close_after_flush(server);
                    used = self.rbuf.len();
                }
            }
        }
        if self.closing {
            self.rbuf.clear(); // nothing more will be parsed; don't buffer what still arrives
        } else {
            self.rbuf.drain(..used);
        }
    }

    /// Stops media so the output drains, then the connection closes.
    fn close_after_flush(&mut self, server: &Server) {
        self.closing = true;
        if self.play.take().is_some() {
            server.stats.playing(false);
        }
    }

    fn respond(
        &mut self,
        req: &Request,
        status: u16,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) {
        rtsp::write_response(&mut self.out.ctrl, status, req.cseq(), headers, body);
    }

    fn handle(&mut self, server: &Server, req: &Request) {
        let method = req.method.as_str();
        if method == "OPTIONS" {
            let public =
                "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
            return self.respond(req, 200, &[("Public", public)], None);
        }
        let camera = if req.url == "*" {
            self.camera
        } else {
            rtsp::camera_index(&req.url).filter(|&i| i < server.cameras)
        };
        let Some(camera) = camera else {
            return self.respond(req, 404, &[], None);
        };
        let faulty = server.faults.cameras.contains(camera);

        let refuse = faulty && server.faults.refuse_auth;
        let authorized = !refuse
            && server
                .auth
                .as_ref()
                .is_none_or(|a| a.verify(req.header("Authorization"), method, &server.nonce));
        if !authorized {
            server.stats.auth_failure();
            let challenge = match &server.auth {
                Some(a) => a.challenge(&server.nonce),
                None => format!(
                    "Digest realm=\"{}\", nonce=\"{}\"",
                    super::auth::REALM,
                    server.nonce
                ),
            };
            return self.respond(req, 401, &[("WWW-Authenticate", &challenge)], None);
        }

        match method {
            "DESCRIBE" => {
                let codec = if faulty {
                    server.faults.announce_codec.as_deref()
                } else {
                    None
                };
                let sdp = server
                    .clip
                    .sdp(camera, server.fps, server.seed & 0xffff_ffff, codec);
                let base = format!("{}/", strip_credentials(&req.url).trim_end_matches('/'));
                self.respond(
                    req,
                    200,
                    &[("Content-Base", &base)],
                    Some(("application/sdp", &sdp)),
                );
            }
            "SETUP" => self.setup(req, camera, faulty),
            "PLAY" => self.play(server, req),
            "PAUSE" if self.setup.is_none() => self.respond(req, 455, &[], None),
            "PAUSE" => {
                if self.play.take().is_some() {
                    server.stats.playing(false);
                }
                let session = self.session_header(false);
                self.respond(req, 200, &[("Session", &session)], None);
            }
            "GET_PARAMETER" | "SET_PARAMETER" => {
                let session = self.session_header(false);
                if self.setup.is_some() {
                    self.respond(req, 200, &[("Session", &session)], None);
                } else {
                    self.respond(req, 200, &[], None);
                }
            }
            "TEARDOWN" => {
                self.respond(req, 200, &[], None);
                self.close_after_flush(server);
            }
            _ => self.respond(req, 501, &[], None),
        }
    }

    fn session_header(&self, with_timeout: bool) -> String {
        match &self.setup {
            Some(s) if with_timeout => format!("{};timeout={SESSION_TIMEOUT_S}", s.session_id),
            Some(s) => s.session_id.clone(),
            None => String::new(),
        }
    }

    fn setup(&mut self, req: &Request, camera: usize, faulty: bool) {
        let Some(treq) = req.header("Transport").and_then(rtsp::transport_request) else {
            return self.respond(req, 461, &[], None);
        };
        let channel = match treq {
            rtsp::TransportRequest::Tcp { channel } => channel,
            rtsp::TransportRequest::Udp { .. } => 0,
        };
        if let Some(s) = &self.setup
            && s.camera != camera
        {
            // One camera per connection, as with a real camera's single video track.
            return self.respond(req, 459, &[], None);
        }
        if self.setup.is_none() {
            let udp = match treq {
                rtsp::TransportRequest::Udp {
                    client_rtp,
                    client_rtcp,
                } => match UdpOut::bind(self.peer.ip(), client_rtp, client_rtcp) {
                    Ok(u) => Some(u),
                    Err(e) => {
                        tracing::warn!(peer = %self.peer, error = %e, "camsim: cannot open UDP ports");
                        return self.respond(req, 500, &[], None);
                    }
                },
                rtsp::TransportRequest::Tcp { .. } => None,
            };
            let session_id = format!("{:016x}", self.rng.next_u64());
            let ssrc = self.rng.next_u64() as u32;
            self.setup = Some(Setup {
                camera,
                channel,
                session_id,
                ssrc,
                track_url: strip_credentials(&req.url),
                udp,
            });
            self.camera = Some(camera);
            self.faulty = faulty;
        }
        let s = self.setup.as_ref().expect("set above");
        let transport = match &s.udp {
            Some(u) => {
                let (a, b) = u.server_ports();
                format!(
                    "RTP/AVP;unicast;client_port={}-{};server_port={a}-{b};ssrc={:08X};mode=\"PLAY\"",
                    u.to_rtp.port(),
                    u.to_rtcp.port(),
                    s.ssrc
                )
            }
            None => format!(
                "RTP/AVP/TCP;unicast;interleaved={}-{};ssrc={:08X};mode=\"PLAY\"",
                s.channel,
                s.channel + 1,
                s.ssrc
            ),
        };
        let session = self.session_header(true);
        self.respond(
            req,
            200,
            &[("Transport", &transport), ("Session", &session)],
            None,
        );
    }

    fn play(&mut self, server: &Server, req: &Request) {
        let Some(setup) = &self.setup else {
            return self.respond(req, 455, &[], None);
        };
        let session_ok = req
            .header("Session")
            .is_some_and(|v| v.split(';').next().map(str::trim) == Some(setup.session_id.as_str()));
        if !session_ok {
            return self.respond(req, 454, &[], None);
        }
        let track_url = setup.track_url.clone();
        let clip = &server.clip;
        if self.play.is_none() {
            let now = Instant::now();
            let clock = CameraClock::new(
                server.epoch,
                server.fps,
                setup.camera,
                server.cameras,
                clip.info().max_gop,
                clip.frames.len(),
            );
            let k = clock.first_tick_at_or_after(now);
            let c = clock.clip_frame(k);
            let lag = c - clip.gop_start[c] as usize;
            let faults = &server.faults;
            let faulty = self.faulty;
            self.play = Some(Play {
                clock,
                k,
                lag,
                skip_to_idr: None,
                stalled: false,
                stall_at: faults.stall_after.filter(|_| faulty).map(|d| now + d),
                drop_at: faults.drop_every.filter(|_| faulty).map(|d| now + d),
                next_report: now,
            });
            self.rtp_origin
                .get_or_insert((k, self.rng.next_u64() as u32));
            server.stats.playing(true);
        }
        let k = self.play.as_ref().expect("set above").k;
        let rtp_info = format!(
            "url={track_url};seq={};rtptime={}",
            self.seq,
            rtp_time(self.rtp_origin, k, server.fps)
        );
        let session = self.session_header(false);
        self.respond(
            req,
            200,
            &[
                ("Session", &session),
                ("Range", "npt=0.000-"),
                ("RTP-Info", &rtp_info),
            ],
            None,
        );
    }

    /// Sends (or deliberately skips) the frame due now. Returns a reason to close, if any.
    fn on_tick(&mut self, server: &Server) -> Option<&'static str> {
        let clip = &server.clip;
        let now = Instant::now();
        let play = self.play.as_mut()?;
        if play.drop_at.is_some_and(|t| now >= t) {
            server.stats.fault_disconnect();
            return Some("fault: drop_every");
        }
        if !play.stalled && play.stall_at.is_some_and(|t| now >= t) {
            play.stalled = true;
            server.stats.fault_stall();
            tracing::debug!(peer = %self.peer, camera = ?self.camera, "camsim: stalling session (fault)");
        }
        if play.stalled {
            play.k += 1;
            return None;
        }
        if now.saturating_duration_since(play.clock.tick_time(play.k)) > MAX_LATENESS {
            let caught_up = play.clock.first_tick_at_or_after(now);
            self.pending.dropped_late += caught_up - play.k;
            play.k = caught_up;
            play.skip_to_idr = Some(DropReason::ServerLate);
        }
        let k = play.k;
        play.k += 1;
        let c = play.clock.clip_frame(k);
        let idr = clip.frames[c].idr;
        if idr {
            play.lag = 0;
        }
        let frame_idx = c.saturating_sub(play.lag);
        let frame = clip.frames[frame_idx];
        let report_due = now >= play.next_report;
        if report_due {
            play.next_report = now + REPORT_EVERY;
        }

        let drop_reason = if self.out.frame.is_some() {
            Some(DropReason::SlowClient)
        } else if idr {
            None
        } else {
            play.skip_to_idr
        };
        if let Some(reason) = drop_reason {
            play.skip_to_idr = Some(reason);
            match reason {
                DropReason::SlowClient => self.pending.dropped_slow += 1,
                DropReason::ServerLate => self.pending.dropped_late += 1,
            }
            // The packets count as lost on the wire, so the client's loss counters see them.
            self.seq = self.seq.wrapping_add(frame.packets as u16);
        } else {
            play.skip_to_idr = None;
            let ts = rtp_time(self.rtp_origin, k, server.fps);
            if report_due {
                let ntp = server.wall.ntp(play.clock.tick_time(k));
                self.queue_sender_report(ntp, ts);
            }
            self.queue_frame(server, frame, ts);
        }
        if report_due {
            server.stats.publish(&mut self.pending);
        }
        None
    }

    fn queue_frame(&mut self, server: &Server, frame: FrameRef, ts: u32) {
        let clip = &server.clip;
        if self.setup.as_ref().is_some_and(|s| s.udp.is_some()) {
            return self.send_frame_udp(server, frame, ts);
        }
        let setup = self.setup.as_ref().expect("playing implies setup");
        let corrupt_ratio = self.corrupt_ratio(server);
        let out = &mut self.out;
        out.headers.clear();
        out.corrupted.clear();
        let packets = clip.frame_packets(frame);
        for (i, p) in packets.iter().enumerate() {
            let len = (p.len + 12) as u16;
            out.headers.extend_from_slice(&[b'$', setup.channel]);
            out.headers.extend_from_slice(&len.to_be_bytes());
            out.headers.extend_from_slice(&rtp_header(
                i + 1 == packets.len(),
                self.seq,
                ts,
                setup.ssrc,
            ));
            self.seq = self.seq.wrapping_add(1);
            if corrupts(&mut self.rng, corrupt_ratio, p) {
                let mut bytes = clip.payload(*p).to_vec();
                corrupt(&mut bytes, p.header, &mut self.rng);
                out.corrupted.push((i, bytes));
                self.pending.corrupted += 1;
            }
        }
        out.frame = Some(frame);
        out.written = 0;
        self.count_sent(frame);
    }

    /// UDP sessions: one datagram per packet, sent now (no pacing backlog: a full socket
    /// buffer loses packets, as a real network would, and the client's loss counters see it).
    fn send_frame_udp(&mut self, server: &Server, frame: FrameRef, ts: u32) {
        let clip = &server.clip;
        let corrupt_ratio = self.corrupt_ratio(server);
        let setup = self.setup.as_mut().expect("playing implies setup");
        let ssrc = setup.ssrc;
        let u = setup.udp.as_mut().expect("a UDP session");
        let packets = clip.frame_packets(frame);
        for (i, p) in packets.iter().enumerate() {
            u.scratch.clear();
            u.scratch
                .extend_from_slice(&rtp_header(i + 1 == packets.len(), self.seq, ts, ssrc));
            let start = u.scratch.len();
            u.scratch.extend_from_slice(clip.payload(*p));
            if corrupts(&mut self.rng, corrupt_ratio, p) {
                corrupt(&mut u.scratch[start..], p.header, &mut self.rng);
                self.pending.corrupted += 1;
            }
            self.seq = self.seq.wrapping_add(1);
            // WouldBlock or a refused port (the client went away): the packet is lost.
            if let Ok(n) = u.rtp.send_to(&u.scratch, u.to_rtp) {
                self.pending.bytes += n as u64;
            }
        }
        self.pending.frames += 1;
        self.count_sent(frame);
    }

    /// The corruption fault's ratio for this connection (0 unless it is a faulty camera).
    fn corrupt_ratio(&self, server: &Server) -> f32 {
        if self.faulty {
            server.faults.corrupt_ratio
        } else {
            0.0
        }
    }

    /// Packet and payload-octet counts for the next RTCP sender report.
    fn count_sent(&mut self, frame: FrameRef) {
        self.rtp_packets = self.rtp_packets.wrapping_add(frame.packets);
        self.rtp_octets = self
            .rtp_octets
            .wrapping_add(frame.wire_bytes - 16 * frame.packets);
    }

    /// RTCP compound packet: sender report + SDES CNAME (RFC 3550 6.1 requires the CNAME).
    fn queue_sender_report(&mut self, ntp: u64, ts: u32) {
        let setup = self.setup.as_ref().expect("playing implies setup");
        if let Some(u) = &setup.udp {
            let mut pkt = Vec::with_capacity(64);
            write_sender_report(
                &mut pkt,
                setup.ssrc,
                ntp,
                ts,
                self.rtp_packets,
                self.rtp_octets,
            );
            let _ = u.rtcp.send_to(&pkt[4..], u.to_rtcp);
            return;
        }
        let ctrl = &mut self.out.ctrl;
        let at = ctrl.len();
        write_sender_report(ctrl, setup.ssrc, ntp, ts, self.rtp_packets, self.rtp_octets);
        // The 4-byte interleaved frame header: `$`, the RTCP channel, the length.
        ctrl[at + 1] = setup.channel + 1;
    }
}

/// Appends `$`, a channel placeholder and the length (4 bytes, for TCP interleaving; UDP
/// sends from offset 4), then the RTCP compound packet: sender report + SDES CNAME (RFC 3550
/// 6.1 requires the CNAME).
fn write_sender_report(out: &mut Vec<u8>, ssrc: u32, ntp: u64, ts: u32, packets: u32, octets: u32) {
    const CNAME: &[u8] = b"xueliang-camsim";
    // SDES chunk: SSRC, CNAME item (type, len, text), END, padded to 32 bits.
    let chunk_len = (4 + 2 + CNAME.len() + 1).div_ceil(4) * 4;
    let sdes_len = 4 + chunk_len;
    let total = 28 + sdes_len;
    out.extend_from_slice(&[b'$', 0]);
    out.extend_from_slice(&(total as u16).to_be_bytes());
    out.extend_from_slice(&[0x80, 200, 0, 6]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&ntp.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&packets.to_be_bytes());
    out.extend_from_slice(&octets.to_be_bytes());
    out.extend_from_slice(&[0x81, 202]);
    out.extend_from_slice(&((sdes_len / 4 - 1) as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&[1, CNAME.len() as u8]);
    out.extend_from_slice(CNAME);
    out.resize(out.len() + chunk_len - (4 + 2 + CNAME.len()), 0);
}

/// The 12-byte RTP header (RFC 3550) of one packet of a frame, payload type 96; the marker
/// bit is set on the frame's last packet.
fn rtp_header(last: bool, seq: u16, ts: u32, ssrc: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = 0x80;
    h[1] = if last { 0x80 | 96 } else { 96 };
    h[2..4].copy_from_slice(&seq.to_be_bytes());
    h[4..8].copy_from_slice(&ts.to_be_bytes());
    h[8..12].copy_from_slice(&ssrc.to_be_bytes());
    h
}

/// Whether the corruption fault hits this packet: slices only, never tiny ones.
fn corrupts(rng: &mut Rng, ratio: f32, p: &super::packetize::PacketRef) -> bool {
    ratio > 0.0 && p.slice && p.len > u32::from(p.header) + 2 && rng.next_f32() < ratio
}

/// Overwrites 4 bytes of slice data with random values, keeping what the depacketizer relies
/// on: the first `header` bytes (NAL header, FU indicator/payload header and FU header) are
/// untouched, and every new value is in 4..=255 and differs from the old one, so no `00 00 0x`
/// start-code or emulation pattern can appear (clients such as retina scan payloads for start
/// codes). Only the decoder sees damage.
fn corrupt(bytes: &mut [u8], header: u8, rng: &mut Rng) {
    let header = usize::from(header);
    for _ in 0..4 {
        let at = header + (rng.next_u64() as usize) % (bytes.len() - header);
        let mut v = 4 + (rng.next_u64() % 252) as u8;
        if v == bytes[at] {
            v = if v == 255 { 4 } else { v + 1 };
        }
        bytes[at] = v;
    }
}

/// RTP time of tick `k`: exactly 90 kHz / fps per tick from the session's origin.
fn rtp_time(origin: Option<(u64, u32)>, k: u64, fps: f64) -> u32 {
    let (k0, ts0) = origin.unwrap_or((k, 0));
    let ticks = (k.wrapping_sub(k0) as f64 * 90_000.0 / fps).round() as u64;
    ts0.wrapping_add(ticks as u32)
}

/// `rtsp://user:pass@host/…` → `rtsp://host/…`, so credentials never echo back or get logged.
fn strip_credentials(url: &str) -> String {
    if let Some(p) = url.find("://") {
        let after = &url[p + 3..];
        let host_end = after.find('/').unwrap_or(after.len());
        if let Some(at) = after[..host_end].rfind('@') {
            return format!("{}{}", &url[..p + 3], &after[at + 1..]);
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_uniformish() {
        let mut r = Rng::new(1);
        let n = 10_000;
        let below = (0..n).filter(|_| r.next_f32() < 0.25).count();
        assert!((2_200..2_800).contains(&below), "{below}");
    }

    #[test]
    fn corruption_never_forms_start_codes_or_touches_headers() {
        let mut rng = Rng::new(7);
        for round in 0..2_000 {
            // Worst case input: zero pairs one byte flip away from a start code.
            let mut bytes: Vec<u8> = (0..8 + round % 50)
                .map(|j| if j % 3 == 1 { 4 } else { 0 })
                .collect();
            bytes[0] = 0x7c;
            bytes[1] = 0x85;
            // 2: H.264 NAL / FU-A headers; 4: an H.265 FU's payload + FU header + slice byte.
            let header = if round % 2 == 0 { 2 } else { 4 };
            let before = bytes.clone();
            corrupt(&mut bytes, header, &mut rng);
            assert_eq!(&bytes[..header as usize], &before[..header as usize]);
            assert_ne!(bytes, before);
            let created_start_code = bytes[2..]
                .windows(3)
                .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3);
            assert!(!created_start_code, "{bytes:02x?}");
        }
    }

    #[test]
    fn credentials_are_stripped_from_urls() {
        assert_eq!(
            strip_credentials("rtsp://u:p@h:1/cam/0"),
            "rtsp://h:1/cam/0"
        );
        assert_eq!(strip_credentials("rtsp://h:1/cam/0"), "rtsp://h:1/cam/0");
    }

    #[test]
    fn rtp_time_advances_3600_per_tick_at_25_fps() {
        let o = Some((10, u32::MAX - 100));
        assert_eq!(rtp_time(o, 10, 25.0), u32::MAX - 100);
        assert_eq!(rtp_time(o, 11, 25.0), 3499);
    }
}
