//! A constant-velocity Kalman filter on one box coordinate, with elapsed time as an input.
//!
//! ByteTrack's 8-state filter (centre, size, and their velocities) never couples its axes: the
//! transition, process noise and measurement noise are block-diagonal, so its covariance stays
//! four independent 2×2 blocks. We keep exactly those blocks — one `Axis` per coordinate —
//! which needs no matrix library and allocates nothing.
//!
//! Unlike ByteTrack (one step per video frame) the step here is the elapsed time `dt`, because
//! samples arrive at 0.5–5 per second and irregularly. Process noise is the continuous white-noise
//! acceleration model discretised over `dt` (`q·[dt³/3, dt²/2; dt²/2, dt]`), which is exact for
//! any split of an interval into steps; so a track predicted over two short steps has the same
//! uncertainty as one predicted over one long step. Noise scales with the box size (a box twice
//! as tall is twice as close to the camera and moves twice as many pixels), which is also what
//! ByteTrack does.
//!
//! Why Kalman rather than an alpha-beta filter: the gain and, more importantly, the position
//! uncertainty adapt to the elapsed time and to how many times the track has been seen. The
//! tracker's fallback gate (centre distance when boxes no longer overlap at low sample rates) is
//! the Mahalanobis distance under that uncertainty: wide for a fresh track whose velocity is
//! unknown, or one that has been missed for seconds, and tight for a well-established one.

/// One coordinate (centre x, centre y, width or height) and its velocity, in pixels and
/// pixels per second, with the 2×2 covariance `[[pp, pv], [pv, vv]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Axis {
    pub pos: f64,
    pub vel: f64,
    pp: f64,
    pv: f64,
    vv: f64,
}

impl Axis {
    /// A fresh axis at `pos` with unknown velocity: standard deviations `pos_std` and `vel_std`.
    pub fn new(pos: f64, pos_std: f64, vel_std: f64) -> Axis {
        Axis {
            pos,
            vel: 0.0,
            pp: pos_std * pos_std,
            pv: 0.0,
            vv: vel_std * vel_std,
        }
    }

    /// Moves the state `dt` seconds ahead; `q` is the acceleration noise density (px²/s³).
    pub fn predict(&mut self, dt: f64, q: f64) {
        if dt <= 0.0 {
            return;
        }
        self.pos += self.vel * dt;
        let (dt2, dt3) = (dt * dt, dt * dt * dt);
        self.pp += 2.0 * dt * self.pv + dt2 * self.vv + q * dt3 / 3.0;
        self.pv += dt * self.vv + q * dt2 / 2.0;
        self.vv += q * dt;
    }

    /// Folds in a measurement `z` of the position with noise variance `r`.
    pub fn update(&mut self, z: f64, r: f64) {
        let s = self.pp + r;
        let (k0, k1) = (self.pp / s, self.pv / s);
        let y = z - self.pos;
        self.pos += k0 * y;
        self.vel += k1 * y;
        let (pp, pv) = (self.pp, self.pv);
        self.pp = pp - k0 * pp;
        self.pv = pv - k0 * pv;
        self.vv -= k1 * pv;
    }

    /// Variance of a measurement of this axis (state uncertainty plus measurement noise `r`).
    pub fn innovation_var(&self, r: f64) -> f64 {
        self.pp + r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_constant_velocity_from_irregular_samples() {
        let mut a = Axis::new(0.0, 1.0, 50.0);
        let mut t = 0.0;
        for dt in [0.2, 1.0, 2.0, 0.5, 2.0, 1.0, 0.2, 2.0] {
            a.predict(dt, 1.0);
            t += dt;
            a.update(30.0 * t, 1.0);
        }
        assert!((a.vel - 30.0).abs() < 1.0, "velocity {}", a.vel);
        let before = a.pp;
        a.predict(2.0, 1.0);
        assert!((a.pos - 30.0 * (t + 2.0)).abs() < 3.0);
        assert!(a.pp > before, "uncertainty must grow while predicting");
    }

    #[test]
    fn one_long_step_equals_two_short_ones() {
        let mut one = Axis::new(5.0, 2.0, 10.0);
        one.vel = 3.0;
        let mut two = one;
        one.predict(2.0, 4.0);
        two.predict(0.5, 4.0);
        two.predict(1.5, 4.0);
        for (x, y) in [
            (one.pos, two.pos),
            (one.pp, two.pp),
            (one.pv, two.pv),
            (one.vv, two.vv),
        ] {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
    }
}
