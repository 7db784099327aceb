//! When each camera's frames go out, and which clip frame each tick carries.
//!
//! Design decisions:
//! - **A camera is a clock, not a connection.** Camera `i` has its own timeline anchored at server
//!   start: tick `k` happens at `epoch + (k - frac_i) / fps` and airs clip frame
//!   `(k + offset_i) mod len`. A client joining late sees the camera "live", the way a real
//!   camera's stream does not restart for each viewer.
//! - **Phases are spread evenly over the GOP.** With `phase_i = i * gop / cameras` (in frames),
//!   `offset_i = floor(phase_i)` and `frac_i = phase_i - offset_i`, camera `i`'s IDRs go out at
//!   `(m * gop - phase_i) / fps`: N cameras' keyframes are evenly spaced over the GOP period,
//!   including sub-frame spacing when N > gop, so 2,000 sessions do not all wake up (nor ship a
//!   large IDR) in the same millisecond.
//! - **Different cameras show different scenes.** Each camera also starts a different whole
//!   number of GOPs into the clip, so an analyzer sees varied content, not N copies in lockstep.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct CameraClock {
    epoch: Instant,
    frame_secs: f64,
    frac: f64,
    offset: usize,
    clip_len: usize,
}

impl CameraClock {
    pub fn new(
        epoch: Instant,
        fps: f64,
        camera: usize,
        cameras: usize,
        gop: usize,
        clip_len: usize,
    ) -> Self {
        let gop = gop.max(1);
        let phase = (camera % cameras.max(1)) as f64 * gop as f64 / cameras.max(1) as f64;
        let gops_in_clip = (clip_len / gop).max(1);
        // 7 is coprime with most GOP counts, so neighbouring cameras land far apart in the clip.
        let scene = (camera * 7 % gops_in_clip) * gop;
        CameraClock {
            epoch,
            frame_secs: 1.0 / fps,
            frac: phase.fract(),
            offset: phase.floor() as usize + scene,
            clip_len: clip_len.max(1),
        }
    }

    /// When tick `k` (≥ 1) is due.
    pub fn tick_time(&self, k: u64) -> Instant {
        self.epoch + Duration::from_secs_f64((k as f64 - self.frac) * self.frame_secs)
    }

    /// The first tick due at or after `t`.
    pub fn first_tick_at_or_after(&self, t: Instant) -> u64 {
        let x = t.saturating_duration_since(self.epoch).as_secs_f64() / self.frame_secs + self.frac;
        (x.ceil() as u64).max(1)
    }

    /// The clip frame that tick `k` airs.
    pub fn clip_frame(&self, k: u64) -> usize {
        ((k % self.clip_len as u64) as usize + self.offset) % self.clip_len
    }
}

/// Maps the monotonic clock onto wall-clock NTP time for RTCP sender reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    instant: Instant,
    unix: Duration,
}

impl WallClock {
    pub fn now() -> Self {
        WallClock {
            instant: Instant::now(),
            unix: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// 64-bit NTP timestamp (seconds since 1900 in the high half) of `t`.
    pub fn ntp(&self, t: Instant) -> u64 {
        const UNIX_TO_NTP: u64 = 2_208_988_800;
        let unix = if t >= self.instant {
            self.unix + (t - self.instant)
        } else {
            self.unix.saturating_sub(self.instant - t)
        };
        let secs = unix.as_secs() + UNIX_TO_NTP;
        let frac = (u64::from(unix.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idr_instants_are_spread_evenly_over_the_gop() {
        let epoch = Instant::now();
        let (gop, cameras, len) = (50, 4, 1950);
        let mut idr_phase_ms: Vec<f64> = (0..cameras)
            .map(|cam| {
                let c = CameraClock::new(epoch, 25.0, cam, cameras, gop, len);
                let k = (1..=200)
                    .find(|&k| c.clip_frame(k).is_multiple_of(gop))
                    .unwrap();
                let t = c.tick_time(k).duration_since(epoch).as_secs_f64() * 1000.0;
                t % 2000.0
            })
            .collect();
        idr_phase_ms.sort_by(f64::total_cmp);
        for w in idr_phase_ms.windows(2) {
            assert!((w[1] - w[0] - 500.0).abs() < 1.0, "{idr_phase_ms:?}");
        }
    }

    #[test]
    fn sub_frame_phases_when_more_cameras_than_gop_frames() {
        let epoch = Instant::now();
        let a = CameraClock::new(epoch, 25.0, 0, 100, 50, 1950);
        let b = CameraClock::new(epoch, 25.0, 1, 100, 50, 1950);
        // Camera 1 is half a frame ahead of camera 0 on the same tick index.
        let d = (a.tick_time(10) - b.tick_time(10)).as_secs_f64();
        assert!((d - 0.020).abs() < 1e-6, "{d}");
    }

    #[test]
    fn first_tick_is_not_in_the_past() {
        let epoch = Instant::now();
        let c = CameraClock::new(epoch, 25.0, 3, 7, 50, 1950);
        for ms in [0u64, 1, 39, 40, 41, 1234] {
            let t = epoch + Duration::from_millis(ms);
            let k = c.first_tick_at_or_after(t);
            assert!(c.tick_time(k) >= t - Duration::from_micros(1));
            assert!(k == 1 || c.tick_time(k - 1) < t);
        }
    }

    #[test]
    fn ntp_of_unix_epoch_is_1900_plus_70_years() {
        let w = WallClock {
            instant: Instant::now(),
            unix: Duration::from_millis(500),
        };
        assert_eq!(w.ntp(w.instant), (2_208_988_800u64 << 32) | (1u64 << 31));
    }
}
