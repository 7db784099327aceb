//! The report: Markdown tables and two hand-written SVG plots (no plotting crate: a few
//! rectangles, polylines and labels are all they need).
//!
//! - `cpu-per-stage.svg`: one panel per sampling policy; for every step a stacked bar of the
//!   cores each stage used, cameras on the x axis (failed steps' labels in red with ✗), a
//!   dashed line at the machine's core count.
//! - `latency-cdf.svg`: cumulative distribution of end-to-end latency (capture → pushed to a
//!   desk, solid) and capture → alert in Kafka (dashed) at each policy's maximum sustained
//!   load, with the 1 s target marked.

use super::probe::STAGES;
use super::ramp::Step;
use std::fmt::Write as _;

const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
    "#bab0ac", "#ff9da7",
];
const POLICY_COLORS: [&str; 6] = [
    "#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A round axis maximum ≥ `v` and its tick step: the step is 1, 2, 2.5 or 5 × 10^k, about a
/// sixth of `v`, and the maximum the first multiple of it at or above `v`.
fn nice_max(v: f64) -> (f64, f64) {
    let v = v.max(1e-9);
    let rough = v / 6.0;
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag);
    ((v / step - 1e-9).ceil() * step, step)
}

/// Cameras vs CPU per stage, one panel per policy.
pub fn cpu_svg(policies: &[(String, Vec<Step>)], cores: usize) -> String {
    let (pw, ph, ml, mb, mt) = (300.0, 250.0, 46.0, 38.0, 50.0);
    let width = (20.0 + policies.len().max(1) as f64 * (pw + 20.0)).max(760.0);
    let legend_y = mt + ph + mb + 16.0;
    let height = legend_y + 48.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{:.0}" y="18" font-size="14" text-anchor="middle">CPU per stage vs cameras (cores; bar = one step; ✗ = step failed)</text>"#,
        width / 2.0
    );
    let ymax_data = policies
        .iter()
        .flat_map(|(_, st)| st.iter())
        .map(|st| st.cores.values().sum::<f64>())
        .fold(cores as f64, f64::max);
    let (ymax, ystep) = nice_max(ymax_data * 1.05);
    for (pi, (key, steps)) in policies.iter().enumerate() {
        let x0 = 20.0 + pi as f64 * (pw + 20.0) + ml;
        let w = pw - ml;
        let y0 = mt + ph; // axis baseline
        let mut sorted: Vec<&Step> = steps.iter().collect();
        sorted.sort_by_key(|st| st.cameras);
        sorted.dedup_by_key(|st| st.cameras);
        let best = steps.iter().filter(|st| st.pass).map(|st| st.cameras).max();
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{} — max {}</text>"#,
            x0 + w / 2.0,
            mt - 10.0,
            esc(key),
            best.map_or("none".to_owned(), |b| format!("{b} cameras"))
        );
        // Grid and y labels.
        let mut t = 0.0;
        while t <= ymax + 1e-9 {
            let y = y0 - t / ymax * ph;
            let _ = writeln!(
                s,
                r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{t:.1}</text>"##,
                x0 + w,
                x0 - 4.0,
                y + 4.0
            );
            t += ystep;
        }
        let yc = y0 - cores as f64 / ymax * ph;
        let _ = writeln!(
            s,
            r##"<line x1="{x0:.1}" y1="{yc:.1}" x2="{:.1}" y2="{yc:.1}" stroke="#333" stroke-dasharray="5,3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{cores} cores</text>"##,
            x0 + w,
            x0 + w - 2.0,
            yc - 3.0
        );
        let n = sorted.len().max(1) as f64;
        let slot = w / n;
        let bw = (slot * 0.7).min(40.0);
        for (i, st) in sorted.iter().enumerate() {
            let cx = x0 + slot * (i as f64 + 0.5);
            let mut acc = 0.0;
            for (si, stage) in STAGES.iter().enumerate() {
                let v = st.cores.get(*stage).copied().unwrap_or(0.0);
                if v <= 0.0 {
                    continue;
                }
                let (ya, yb) = (y0 - (acc + v) / ymax * ph, y0 - acc / ymax * ph);
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{ya:.1}" width="{bw:.1}" height="{:.2}" fill="{}"><title>{} cameras, {stage}: {v:.2} cores</title></rect>"#,
                    cx - bw / 2.0,
                    (yb - ya).max(0.0),
                    PALETTE[si % PALETTE.len()],
                    st.cameras
                );
                acc += v;
            }
            let (color, mark) = if st.pass {
                ("#000", "")
            } else {
                ("#c00", " ✗")
            };
            let _ = writeln!(
                s,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="{color}">{}{mark}</text>"#,
                y0 + 14.0,
                st.cameras
            );
        }
        let _ = writeln!(
            s,
            r##"<line x1="{x0:.1}" y1="{y0:.1}" x2="{:.1}" y2="{y0:.1}" stroke="#000"/><line x1="{x0:.1}" y1="{mt:.1}" x2="{x0:.1}" y2="{y0:.1}" stroke="#000"/><text x="{:.1}" y="{:.1}" text-anchor="middle">cameras</text>"##,
            x0 + w,
            x0 + w / 2.0,
            y0 + 30.0
        );
    }
    // Legend, two rows of five.
    let per_row = STAGES.len().div_ceil(2);
    for (i, stage) in STAGES.iter().enumerate() {
        let (row, col) = (i / per_row, i % per_row);
        let x = 20.0 + col as f64 * ((width - 40.0) / per_row as f64);
        let y = legend_y + row as f64 * 18.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            y - 9.0,
            PALETTE[i % PALETTE.len()],
            x + 14.0,
            y,
            esc(stage)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// One curve of the CDF plot.
pub struct Curve {
    pub label: String,
    pub policy_index: usize,
    pub dashed: bool,
    /// Latencies in ms.
    pub values: Vec<f64>,
}

/// Latency CDF.
pub fn cdf_svg(curves: &[Curve], limit_ms: f64) -> String {
    let (w, h, ml, mr, mt, mb) = (760.0, 430.0, 56.0, 250.0, 44.0, 44.0);
    let (pw, ph) = (w - ml - mr, h - mt - mb);
    let data_max = curves
        .iter()
        .flat_map(|c| c.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Always show the target, with some room after it.
    let (xmax, xstep) = nice_max((data_max * 1.05).max(limit_ms * 1.1).max(100.0));
    let x = |v: f64| ml + v.clamp(0.0, xmax) / xmax * pw;
    let y = |p: f64| mt + (1.0 - p) * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r##"<rect width="100%" height="100%" fill="white"/><text x="{:.0}" y="18" font-size="14" text-anchor="middle">Alert latency after capture at each policy's maximum sustained load</text><text x="{:.0}" y="33" text-anchor="middle" fill="#555">solid: pushed to a desk; dashed: in Kafka; ✗: no step passed, the smallest step shown</text>"##,
        ml + pw / 2.0,
        ml + pw / 2.0
    );
    let mut t = 0.0;
    while t <= xmax + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{mt:.1}" x2="{:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}</text>"##,
            x(t),
            x(t),
            mt + ph,
            x(t),
            mt + ph + 14.0
        );
        t += xstep;
    }
    for p in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
        let _ = writeln!(
            s,
            r##"<line x1="{ml:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{p}</text>"##,
            y(p),
            ml + pw,
            y(p),
            ml - 4.0,
            y(p) + 4.0
        );
    }
    if limit_ms <= xmax {
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{mt:.1}" x2="{:.1}" y2="{:.1}" stroke="#c00" stroke-dasharray="6,3"/><text x="{:.1}" y="{:.1}" fill="#c00" text-anchor="end">p99 target {limit_ms:.0} ms</text>"##,
            x(limit_ms),
            x(limit_ms),
            mt + ph,
            x(limit_ms) - 4.0,
            y(0.1)
        );
    }
    for c in curves {
        let mut v: Vec<f64> = c.values.iter().copied().filter(|v| v.is_finite()).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mut pts = format!("{:.1},{:.1}", x(0.0), y(0.0));
        for (i, val) in v.iter().enumerate() {
            let _ = write!(
                pts,
                " {:.1},{:.1} {:.1},{:.1}",
                x(*val),
                y(i as f64 / n),
                x(*val),
                y((i + 1) as f64 / n)
            );
        }
        let _ = writeln!(
            s,
            r#"<polyline points="{pts}" fill="none" stroke="{}" stroke-width="1.8"{}/>"#,
            POLICY_COLORS[c.policy_index % POLICY_COLORS.len()],
            if c.dashed {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{ml:.1}" y="{mt:.1}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#000"/><text x="{:.1}" y="{:.1}" text-anchor="middle">ms after capture</text><text x="14" y="{:.1}" text-anchor="middle" transform="rotate(-90 14 {:.1})">fraction of alerts</text>"##,
        ml + pw / 2.0,
        h - 8.0,
        mt + ph / 2.0,
        mt + ph / 2.0
    );
    for (i, c) in curves.iter().enumerate() {
        let ly = mt + 10.0 + i as f64 * 18.0;
        let lx = ml + pw + 14.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{}/><text x="{:.1}" y="{:.1}">{} (n={})</text>"#,
            lx + 22.0,
            POLICY_COLORS[c.policy_index % POLICY_COLORS.len()],
            if c.dashed {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            },
            lx + 28.0,
            ly + 4.0,
            esc(&c.label),
            c.values.len()
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axis_maxima() {
        assert_eq!(nice_max(2.1), (2.5, 0.5));
        assert_eq!(nice_max(1100.0), (1200.0, 200.0));
        assert_eq!(nice_max(730.0), (800.0, 200.0));
        for v in [0.04, 0.4, 1.7, 13.0, 999.0, 2600.0] {
            let (top, step) = nice_max(v);
            assert!(top >= v && top - v < step, "{v}: {top} {step}");
            assert!((3.0..=12.0).contains(&(top / step)), "{v}: {top} {step}");
        }
    }

    #[test]
    fn cdf_is_well_formed_svg() {
        let svg = cdf_svg(
            &[Curve {
                label: "a <b>".into(),
                policy_index: 0,
                dashed: true,
                values: vec![120.0, 80.0, f64::INFINITY, 300.0],
            }],
            1000.0,
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("polyline"));
    }
}
