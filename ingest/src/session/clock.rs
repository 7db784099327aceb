//! Capture time from RTCP sender reports.
//!
//! A sender report pairs an RTP timestamp with the camera's NTP wall clock, so any frame's
//! capture time is `sr_wall + (frame_rtp − sr_rtp) / clock_rate`. Cameras' clocks are often
//! wrong (never synced, a 1970 or next-year date), so a mapped time is used only when it is
//! plausible against the receive time — not later than it (plus a little skew) and not more
//! than [`MAX_AGE`] earlier; otherwise the receive time is the capture time.

use chrono::{DateTime, TimeDelta, Utc};

use crate::frame::CaptureClock;

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// A capture time this much older than the receive time is not believed.
const MAX_AGE: TimeDelta = TimeDelta::seconds(10);
/// A capture time may be this much later than the receive time (small clock skew).
const MAX_AHEAD: TimeDelta = TimeDelta::milliseconds(500);

/// NTP 32.32 fixed point to UTC; `None` before 1970 (an unset camera clock).
pub fn ntp_to_utc(ntp: u64) -> Option<DateTime<Utc>> {
    let secs = (ntp >> 32).checked_sub(NTP_UNIX_OFFSET)?;
    let nanos = ((ntp & 0xffff_ffff) * 1_000_000_000) >> 32;
    DateTime::from_timestamp(secs as i64, nanos as u32)
}

#[derive(Debug, Clone)]
pub struct SrClock {
    clock_rate: u32,
    last: Option<(i64, DateTime<Utc>)>,
}

impl SrClock {
    pub fn new(clock_rate: u32) -> SrClock {
        SrClock {
            clock_rate: clock_rate.max(1),
            last: None,
        }
    }

    /// Records a sender report: extended RTP timestamp and NTP time.
    pub fn observe(&mut self, rtp: i64, ntp: u64) {
        if let Some(wall) = ntp_to_utc(ntp) {
            self.last = Some((rtp, wall));
        }
    }

    pub fn has_report(&self) -> bool {
        self.last.is_some()
    }

    /// The capture time of a frame with extended RTP timestamp `rtp`, received at `received`.
    pub fn capture_time(&self, rtp: i64, received: DateTime<Utc>) -> (DateTime<Utc>, CaptureClock) {
        if let Some((sr_rtp, sr_wall)) = self.last {
            let ticks = rtp - sr_rtp;
            let nanos = i128::from(ticks) * 1_000_000_000 / i128::from(self.clock_rate);
            if let Ok(nanos) = i64::try_from(nanos) {
                let t = sr_wall + TimeDelta::nanoseconds(nanos);
                if t <= received + MAX_AHEAD && t >= received - MAX_AGE {
                    return (t, CaptureClock::SenderReport);
                }
            }
        }
        (received, CaptureClock::Receive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_rtp_time_through_the_last_report_when_plausible() {
        let now = Utc::now();
        let ntp_of = |t: DateTime<Utc>| {
            let secs = t.timestamp() as u64 + NTP_UNIX_OFFSET;
            let frac = (u64::from(t.timestamp_subsec_nanos()) << 32) / 1_000_000_000;
            (secs << 32) | frac
        };
        let sr_at = now - TimeDelta::seconds(1);
        assert!(
            (ntp_to_utc(ntp_of(sr_at)).unwrap() - sr_at)
                .num_microseconds()
                .unwrap()
                .abs()
                < 2
        );
        let mut c = SrClock::new(90_000);
        assert_eq!(c.capture_time(0, now), (now, CaptureClock::Receive));
        c.observe(1_000_000, ntp_of(sr_at));
        // A frame 0.5 s after the report, received at `now` (0.5 s of network+jitter delay).
        let (t, src) = c.capture_time(1_000_000 + 45_000, now);
        assert_eq!(src, CaptureClock::SenderReport);
        assert!(((t - (sr_at + TimeDelta::milliseconds(500))).num_milliseconds()).abs() <= 1);
        // A camera clock an hour off is not believed.
        c.observe(1_000_000, ntp_of(now - TimeDelta::hours(1)));
        assert_eq!(c.capture_time(1_000_000, now).1, CaptureClock::Receive);
        assert!(ntp_to_utc(5 << 32).is_none());
    }
}
