//! Counters of one simulator instance, mirrored into Prometheus metrics.
//!
//! Design decisions:
//! - **Two views, one source.** Atomic counters serve [`CamsimStats`] snapshots (tests, benches,
//!   the CLI's periodic summary); the same increments go to `metrics` counters whose handles are
//!   resolved once at start, so the per-frame path never does a registry lookup.
//! - **Sessions batch their frame/byte counts** and publish them about once a second and when they
//!   end, so 50,000 frames/s do not bounce shared cache lines between the two cores.
//! - Labels come from fixed sets (`reason`, `fault`); never a camera index or peer address.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use metrics::{Counter, Gauge, describe_counter, describe_gauge};

pub const CONNECTIONS_ACTIVE: &str = "xueliang_camsim_connections_active";
pub const SESSIONS_PLAYING: &str = "xueliang_camsim_sessions_playing";
pub const FRAMES_SENT: &str = "xueliang_camsim_frames_sent_total";
pub const BYTES_SENT: &str = "xueliang_camsim_bytes_sent_total";
pub const FRAMES_DROPPED: &str = "xueliang_camsim_frames_dropped_total";
pub const FAULTS: &str = "xueliang_camsim_faults_total";
pub const AUTH_FAILURES: &str = "xueliang_camsim_auth_failures_total";

/// A point-in-time copy of the simulator's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CamsimStats {
    /// TCP connections open now.
    pub connections_active: u64,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// Connections currently in PLAY.
    pub sessions_playing: u64,
    /// Frames (access units) fully handed to the kernel.
    pub frames_sent: u64,
    /// Bytes written (RTP, RTCP and RTSP).
    pub bytes_sent: u64,
    /// Frames skipped because the client did not drain the previous one in time (and the rest of
    /// that GOP, so the stream stays decodable).
    pub frames_dropped_slow_client: u64,
    /// Frames skipped because the server itself fell more than a second behind.
    pub frames_dropped_server_late: u64,
    /// Connections closed by the `drop_every` fault.
    pub fault_disconnects: u64,
    /// Sessions that stalled by the `stall_after` fault.
    pub fault_stalls: u64,
    /// Packets whose payload the `corrupt_ratio` fault altered.
    pub packets_corrupted: u64,
    /// Requests answered 401 (missing/wrong credentials or `refuse_auth`).
    pub auth_failures: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    connections_active: AtomicU64,
    connections_total: AtomicU64,
    sessions_playing: AtomicU64,
    frames_sent: AtomicU64,
    bytes_sent: AtomicU64,
    dropped_slow: AtomicU64,
    dropped_late: AtomicU64,
    fault_disconnects: AtomicU64,
    fault_stalls: AtomicU64,
    packets_corrupted: AtomicU64,
    auth_failures: AtomicU64,
}

/// Metric handles resolved once per server.
pub(crate) struct Metrics {
    connections_active: Gauge,
    sessions_playing: Gauge,
    frames_sent: Counter,
    bytes_sent: Counter,
    dropped_slow: Counter,
    dropped_late: Counter,
    fault_disconnects: Counter,
    fault_stalls: Counter,
    packets_corrupted: Counter,
    auth_failures: Counter,
}

impl Metrics {
    pub fn register() -> Self {
        describe_gauge!(
            CONNECTIONS_ACTIVE,
            "Camera simulator: TCP connections open."
        );
        describe_gauge!(
            SESSIONS_PLAYING,
            "Camera simulator: sessions streaming (after PLAY)."
        );
        describe_counter!(FRAMES_SENT, "Camera simulator: frames written to clients.");
        describe_counter!(BYTES_SENT, "Camera simulator: bytes written to clients.");
        describe_counter!(
            FRAMES_DROPPED,
            "Camera simulator: frames not sent (label `reason`: slow_client, server_late)."
        );
        describe_counter!(
            FAULTS,
            "Camera simulator: injected faults (label `fault`: drop, stall, corrupt_packet)."
        );
        describe_counter!(AUTH_FAILURES, "Camera simulator: requests answered 401.");
        Metrics {
            connections_active: metrics::gauge!(CONNECTIONS_ACTIVE),
            sessions_playing: metrics::gauge!(SESSIONS_PLAYING),
            frames_sent: metrics::counter!(FRAMES_SENT),
            bytes_sent: metrics::counter!(BYTES_SENT),
            dropped_slow: metrics::counter!(FRAMES_DROPPED, "reason" => "slow_client"),
            dropped_late: metrics::counter!(FRAMES_DROPPED, "reason" => "server_late"),
            fault_disconnects: metrics::counter!(FAULTS, "fault" => "drop"),
            fault_stalls: metrics::counter!(FAULTS, "fault" => "stall"),
            packets_corrupted: metrics::counter!(FAULTS, "fault" => "corrupt_packet"),
            auth_failures: metrics::counter!(AUTH_FAILURES),
        }
    }
}

pub(crate) struct Stats {
    pub counters: Counters,
    metrics: Metrics,
}

/// What a session accumulates between publications.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub frames: u64,
    pub bytes: u64,
    pub dropped_slow: u64,
    pub dropped_late: u64,
    pub corrupted: u64,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            counters: Counters::default(),
            metrics: Metrics::register(),
        }
    }

    pub fn snapshot(&self) -> CamsimStats {
        let c = &self.counters;
        CamsimStats {
            connections_active: c.connections_active.load(Relaxed),
            connections_total: c.connections_total.load(Relaxed),
            sessions_playing: c.sessions_playing.load(Relaxed),
            frames_sent: c.frames_sent.load(Relaxed),
            bytes_sent: c.bytes_sent.load(Relaxed),
            frames_dropped_slow_client: c.dropped_slow.load(Relaxed),
            frames_dropped_server_late: c.dropped_late.load(Relaxed),
            fault_disconnects: c.fault_disconnects.load(Relaxed),
            fault_stalls: c.fault_stalls.load(Relaxed),
            packets_corrupted: c.packets_corrupted.load(Relaxed),
            auth_failures: c.auth_failures.load(Relaxed),
        }
    }

    pub fn connection_opened(&self) {
        self.counters.connections_total.fetch_add(1, Relaxed);
        self.counters.connections_active.fetch_add(1, Relaxed);
        self.metrics.connections_active.increment(1.0);
    }

    pub fn connection_closed(&self) {
        self.counters.connections_active.fetch_sub(1, Relaxed);
        self.metrics.connections_active.decrement(1.0);
    }

    pub fn playing(&self, on: bool) {
        if on {
            self.counters.sessions_playing.fetch_add(1, Relaxed);
            self.metrics.sessions_playing.increment(1.0);
        } else {
            self.counters.sessions_playing.fetch_sub(1, Relaxed);
            self.metrics.sessions_playing.decrement(1.0);
        }
    }

    pub fn publish(&self, p: &mut Pending) {
        let c = &self.counters;
        let m = &self.metrics;
        for (n, counter, metric) in [
            (p.frames, &c.frames_sent, &m.frames_sent),
            (p.bytes, &c.bytes_sent, &m.bytes_sent),
            (p.dropped_slow, &c.dropped_slow, &m.dropped_slow),
            (p.dropped_late, &c.dropped_late, &m.dropped_late),
            (p.corrupted, &c.packets_corrupted, &m.packets_corrupted),
        ] {
            if n > 0 {
                counter.fetch_add(n, Relaxed);
                metric.increment(n);
            }
        }
        *p = Pending::default();
    }

    pub fn fault_disconnect(&self) {
        self.counters.fault_disconnects.fetch_add(1, Relaxed);
        self.metrics.fault_disconnects.increment(1);
    }

    pub fn fault_stall(&self) {
        self.counters.fault_stalls.fetch_add(1, Relaxed);
        self.metrics.fault_stalls.increment(1);
    }

    pub fn auth_failure(&self) {
        self.counters.auth_failures.fetch_add(1, Relaxed);
        self.metrics.auth_failures.increment(1);
    }
}
