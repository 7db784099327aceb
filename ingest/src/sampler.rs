//! Which frames of a camera get decoded, and which decoded frames reach the analyzer.
//!
//! Sampling is split in two because H.264/H.265 delta frames depend on earlier frames:
//! - [`Gate`] runs in the RTSP session, *before* the decoder, on encoded access units. In
//!   `keyframes` mode it passes only random-access points (retina marks them), so delta frames
//!   never cost a decode — ~12× cheaper than decoding everything (measured with GStreamer
//!   1.22's libav decoder: one live 1080p camera decoded at every frame cost ~14 % of a core,
//!   keyframes only ~1.2 %). In `N fps` and `all` modes it passes whole GOPs. After packet
//!   loss, or after a unit was dropped because the decoder was busy, it waits for the next
//!   keyframe instead of feeding the decoder frames whose references are missing (which would
//!   decode to smeared garbage).
//!   `N fps` with a period at least as long as the camera's keyframe interval (e.g. 0.5 fps on a
//!   2 s GOP) is served from keyframes alone: the gate measures the interval and stops passing
//!   delta frames, which costs only a little precision in the output rate.
//! - [`Pacer`] runs *after* the decoder, on decoded pictures, in a pad probe on the decoder's
//!   output — before any scale or colour conversion, so frames that are not due cost a decode
//!   and nothing more. It uses presentation time, so B-frame reordering is handled.

use std::time::Duration;

use xueliang_core::config::Sampling;

/// What the gate decided about one encoded access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send it to the decoder.
    Decode,
    /// Not needed by the sampling policy (a delta frame in keyframes mode). Not a loss.
    NotSampled,
    /// Skipped because its reference frames are missing (after loss, a drop or a reconnect);
    /// counted as a drop with reason `waiting_keyframe`.
    WaitingForKeyframe,
}

/// Decides per encoded access unit whether it is decoded. See the module doc.
#[derive(Debug, Clone)]
pub struct Gate {
    sampling: Sampling,
    waiting: bool,
    decode_deltas: bool,
    last_key: Option<Duration>,
    key_interval: Option<Duration>,
}

impl Gate {
    pub fn new(sampling: Sampling) -> Gate {
        Gate {
            sampling,
            waiting: true,
            decode_deltas: sampling != Sampling::Keyframes,
            last_key: None,
            key_interval: None,
        }
    }

    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// The keyframe interval seen so far, if two keyframes have arrived.
    pub fn keyframe_interval(&self) -> Option<Duration> {
        self.key_interval
    }

    /// `loss`: packets were lost just before this unit (retina's `VideoFrame::loss() > 0`).
    pub fn admit(&mut self, keyframe: bool, loss: bool, pts: Duration) -> Admit {
        if keyframe {
            if let Some(last) = self.last_key
                && let Some(d) = pts.checked_sub(last)
                && !d.is_zero()
                && d < Duration::from_secs(60)
            {
                self.key_interval = Some(d);
            }
            self.last_key = Some(pts);
            self.waiting = false;
            self.decode_deltas = match self.sampling {
                Sampling::Keyframes => false,
                Sampling::All => true,
                Sampling::Fps(n) => {
                    let period = Duration::from_secs_f64(1.0 / f64::from(n));
                    // 5% slack: encoders' GOPs jitter by a frame.
                    !self
                        .key_interval
                        .is_some_and(|k| period.as_secs_f64() >= k.as_secs_f64() * 0.95)
                }
            };
            return Admit::Decode;
        }
        if !self.decode_deltas {
            return Admit::NotSampled;
        }
        if self.waiting {
            return Admit::WaitingForKeyframe;
        }
        if loss {
            self.waiting = true;
            return Admit::WaitingForKeyframe;
        }
        Admit::Decode
    }

    /// Forget the current GOP: call after a unit was dropped before the decoder or when a new
    /// session starts. Delta frames are skipped until the next keyframe.
    pub fn resync(&mut self) {
        self.waiting = true;
    }
}

/// Decides per decoded picture whether it is emitted (`N fps`); passes everything otherwise.
#[derive(Debug, Clone)]
pub struct Pacer {
    period: Option<Duration>,
    next_due: Option<Duration>,
}

/// Timestamps are rounded to the RTP clock; half a millisecond absorbs that.
const PACER_SLACK: Duration = Duration::from_micros(500);

impl Pacer {
    pub fn new(sampling: Sampling) -> Pacer {
        let period = match sampling {
            Sampling::Fps(n) => Some(Duration::from_secs_f64(1.0 / f64::from(n))),
            _ => None,
        };
        Pacer {
            period,
            next_due: None,
        }
    }

    pub fn admit(&mut self, pts: Duration) -> bool {
        let Some(period) = self.period else {
            return true;
        };
        match self.next_due {
            Some(due) if pts + PACER_SLACK < due => {
                // A timestamp far in the past means the stream restarted: start over.
                if due > pts + period * 2 {
                    self.next_due = Some(pts + period);
                    return true;
                }
                false
            }
            Some(due) => {
                let next = due + period;
                // After a gap, do not emit a burst to catch up.
                self.next_due = Some(if next <= pts { pts + period } else { next });
                true
            }
            None => {
                self.next_due = Some(pts + period);
                true
            }
        }
    }

    pub fn reset(&mut self) {
        self.next_due = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(40);

    /// Feeds `seconds` of a 25 fps GOP-`gop` stream and returns the admitted frame indices.
    fn run_gate(sampling: Sampling, gop: usize, seconds: usize) -> Vec<usize> {
        let mut g = Gate::new(sampling);
        (0..seconds * 25)
            .filter(|&i| g.admit(i % gop == 0, false, FRAME * i as u32) == Admit::Decode)
            .collect()
    }

    #[test]
    fn keyframes_mode_passes_only_keyframes() {
        let a = run_gate(Sampling::Keyframes, 50, 10);
        assert_eq!(a, vec![0, 50, 100, 150, 200]);
    }

    #[test]
    fn all_and_fast_fps_pass_whole_gops() {
        assert_eq!(run_gate(Sampling::All, 50, 4).len(), 100);
        assert_eq!(run_gate(Sampling::Fps(5.0), 50, 4).len(), 100);
    }

    #[test]
    fn slow_fps_switches_to_keyframes_once_the_interval_is_known() {
        // 0.5 fps on a 2 s GOP: the first GOP is decoded whole (interval unknown), then only
        // keyframes.
        let a = run_gate(Sampling::Fps(0.5), 50, 10);
        assert_eq!(a.len(), 50 + 4, "{a:?}");
        assert!(a[50..].iter().all(|i| i % 50 == 0));
    }

    #[test]
    fn session_starts_at_a_keyframe_and_loss_waits_for_the_next() {
        let mut g = Gate::new(Sampling::All);
        assert_eq!(g.admit(false, false, FRAME), Admit::WaitingForKeyframe);
        assert_eq!(g.admit(true, false, FRAME * 2), Admit::Decode);
        assert_eq!(g.admit(false, false, FRAME * 3), Admit::Decode);
        assert_eq!(g.admit(false, true, FRAME * 4), Admit::WaitingForKeyframe);
        assert_eq!(g.admit(false, false, FRAME * 5), Admit::WaitingForKeyframe);
        assert_eq!(g.admit(true, true, FRAME * 6), Admit::Decode);
        g.resync();
        assert_eq!(g.admit(false, false, FRAME * 7), Admit::WaitingForKeyframe);
        let mut k = Gate::new(Sampling::Keyframes);
        assert_eq!(k.admit(false, false, FRAME), Admit::NotSampled);
        k.admit(true, false, FRAME);
        assert_eq!(k.admit(false, false, FRAME * 2), Admit::NotSampled);
    }

    #[test]
    fn pacer_emits_n_per_second_without_bursts() {
        for fps in [1.0f32, 3.0, 5.0, 10.0] {
            let mut p = Pacer::new(Sampling::Fps(fps));
            let n = (0..250).filter(|&i| p.admit(FRAME * i)).count();
            let expected = 10.0 * fps;
            assert!(
                (n as f32 - expected).abs() <= 1.0,
                "{fps} fps over 10 s gave {n}"
            );
        }
        let mut p = Pacer::new(Sampling::Fps(1.0));
        assert!(p.admit(Duration::ZERO));
        // A 10 s gap: one frame, then the normal rate, not ten frames at once.
        assert!(p.admit(Duration::from_secs(10)));
        assert!(!p.admit(Duration::from_millis(10_040)));
        assert!(p.admit(Duration::from_secs(11)));
        // The stream restarts at 0 (new session): emit at once.
        assert!(p.admit(Duration::ZERO));
        let mut all = Pacer::new(Sampling::All);
        assert!((0..10).all(|i| all.admit(FRAME * i)));
    }
}
