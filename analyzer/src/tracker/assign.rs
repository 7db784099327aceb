//! Minimum-cost assignment (Hungarian / Kuhn–Munkres with potentials, O(n²·m)).
//!
//! The matrices are small (tracks × detections of one camera frame, rarely above 50 × 50), so the
//! textbook shortest-augmenting-path version is plenty; a crate would add a dependency for forty
//! lines. Forbidden pairs carry [`FORBIDDEN`]; the solver may still pair them when nothing else
//! is left, and the caller drops such pairs. All buffers live in [`Assigner`] and are reused, so a
//! solve allocates nothing once the buffers have grown to the largest frame seen.

/// Cost of a pair that must not be matched. Large enough to dominate any sum of real costs
/// (which are at most ~2 per pair), small enough to keep the potentials exact in `f64`.
pub(crate) const FORBIDDEN: f64 = 1.0e6;

#[derive(Debug, Default)]
pub(crate) struct Assigner {
    u: Vec<f64>,
    v: Vec<f64>,
    p: Vec<usize>,
    way: Vec<usize>,
    minv: Vec<f64>,
    used: Vec<bool>,
    transposed: Vec<f64>,
}

impl Assigner {
    /// Solves the `rows × cols` problem in `cost` (row-major). Writes, for each row, the column
    /// it is assigned to (or `None`) into `row_to_col`, skipping pairs whose cost is
    /// [`FORBIDDEN`] or more.
    pub fn solve(
        &mut self,
        cost: &[f64],
        rows: usize,
        cols: usize,
        row_to_col: &mut Vec<Option<usize>>,
    ) {
        debug_assert_eq!(cost.len(), rows * cols);
        row_to_col.clear();
        row_to_col.resize(rows, None);
        if rows == 0 || cols == 0 {
            return;
        }
        // The algorithm needs rows ≤ cols; solve the transpose otherwise.
        if rows <= cols {
            self.run(cost, rows, cols);
            for j in 1..=cols {
                let i = self.p[j];
                if i != 0 && cost[(i - 1) * cols + (j - 1)] < FORBIDDEN {
                    row_to_col[i - 1] = Some(j - 1);
                }
            }
        } else {
            let mut t = std::mem::take(&mut self.transposed);
            t.clear();
            t.resize(rows * cols, 0.0);
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = cost[r * cols + c];
                }
            }
            self.run(&t, cols, rows);
            for j in 1..=rows {
                let i = self.p[j];
                if i != 0 && t[(i - 1) * rows + (j - 1)] < FORBIDDEN {
                    row_to_col[j - 1] = Some(i - 1);
                }
            }
            self.transposed = t;
        }
    }

    /// e-maxx formulation, 1-based: `p[j]` is the row matched to column `j` (0 = none).
    fn run(&mut self, a: &[f64], n: usize, m: usize) {
        let reset = |v: &mut Vec<f64>, len: usize, x: f64| {
            v.clear();
            v.resize(len, x);
        };
        reset(&mut self.u, n + 1, 0.0);
        reset(&mut self.v, m + 1, 0.0);
        self.p.clear();
        self.p.resize(m + 1, 0);
        self.way.clear();
        self.way.resize(m + 1, 0);
        for i in 1..=n {
            self.p[0] = i;
            let mut j0 = 0usize;
            reset(&mut self.minv, m + 1, f64::INFINITY);
            self.used.clear();
            self.used.resize(m + 1, false);
            loop {
                self.used[j0] = true;
                let i0 = self.p[j0];
                let mut delta = f64::INFINITY;
                let mut j1 = 0usize;
                for j in 1..=m {
                    if !self.used[j] {
                        let cur = a[(i0 - 1) * m + (j - 1)] - self.u[i0] - self.v[j];
                        if cur < self.minv[j] {
                            self.minv[j] = cur;
                            self.way[j] = j0;
                        }
                        if self.minv[j] < delta {
                            delta = self.minv[j];
                            j1 = j;
                        }
                    }
                }
                for j in 0..=m {
                    if self.used[j] {
                        self.u[self.p[j]] += delta;
                        self.v[j] -= delta;
                    } else {
                        self.minv[j] -= delta;
                    }
                }
                j0 = j1;
                if self.p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = self.way[j0];
                self.p[j0] = self.p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(cost: &[f64], rows: usize, cols: usize) -> f64 {
        // Best total over all injective maps of the smaller side, forbidden pairs left unmatched.
        fn go(cost: &[f64], rows: usize, cols: usize, r: usize, used: &mut Vec<bool>) -> f64 {
            if r == rows {
                return 0.0;
            }
            let mut best = FORBIDDEN + go(cost, rows, cols, r + 1, used);
            for c in 0..cols {
                if !used[c] && cost[r * cols + c] < FORBIDDEN {
                    used[c] = true;
                    best = best.min(cost[r * cols + c] + go(cost, rows, cols, r + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        go(cost, rows, cols, 0, &mut vec![false; cols])
    }

    fn total(cost: &[f64], cols: usize, m: &[Option<usize>]) -> f64 {
        m.iter()
            .enumerate()
            .map(|(r, c)| c.map_or(FORBIDDEN, |c| cost[r * cols + c]))
            .sum()
    }

    #[test]
    fn matches_brute_force_on_small_matrices() {
        let mut a = Assigner::default();
        let mut out = Vec::new();
        // A fixed pseudo-random sequence keeps the test deterministic without a rand dependency.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 1000) as f64 / 1000.0
        };
        for rows in 1..=5 {
            for cols in 1..=5 {
                for _ in 0..20 {
                    let cost: Vec<f64> = (0..rows * cols)
                        .map(|_| {
                            let x = next();
                            if x > 0.8 { FORBIDDEN } else { x }
                        })
                        .collect();
                    a.solve(&cost, rows, cols, &mut out);
                    let got = total(&cost, cols, &out);
                    let want = brute_force(&cost, rows, cols);
                    assert!(
                        (got - want).abs() < 1e-9,
                        "{rows}x{cols}: {got} vs {want} for {cost:?}"
                    );
                    let mut seen = vec![false; cols];
                    for c in out.iter().flatten() {
                        assert!(!seen[*c], "column {c} assigned twice");
                        seen[*c] = true;
                    }
                }
            }
        }
    }

    #[test]
    fn prefers_the_global_optimum_over_greedy() {
        // Greedy would take (0,0)=0.1 and leave row 1 with 0.9; optimal is 0.2 + 0.2.
        let cost = [0.1, 0.2, 0.2, 0.9];
        let mut out = Vec::new();
        Assigner::default().solve(&cost, 2, 2, &mut out);
        assert_eq!(out, vec![Some(1), Some(0)]);
    }
}
