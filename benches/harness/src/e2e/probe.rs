//! What `bench e2e` reads while the pipeline runs, without changing it: the Prometheus
//! registry the stages already write to, per-thread CPU from `/proc/self/task`, the broker
//! process's CPU, the machine's CPU, and this process's resident memory (Linux only; the
//! `/proc` readers are `xueliang_testkit::proc`).
//!
//! Stages are told apart by thread name: every long-lived thread of the pipeline is named
//! (`xl-decode-N`, `detector-N`, `analyzer-post`, `alert-publisher`, `alert-store`,
//! librdkafka's `rdk:*`), and the bench names its own runtimes (`xl-e2e-rt` for the pipeline's
//! async work, `xl-e2e-sim` for the camera simulator) so that the simulator's cost can be kept
//! out of the node's.

use metrics_exporter_prometheus::PrometheusHandle;
use xueliang_testkit::proc;

/// One scrape of the registry: (metric name, label text, value) per series.
pub struct Metrics(Vec<(String, String, f64)>);

impl Metrics {
    pub fn take(h: &PrometheusHandle) -> Metrics {
        Metrics::parse(&h.render())
    }

    /// Parses the Prometheus text format (series lines only; comments are skipped).
    pub fn parse(text: &str) -> Metrics {
        let mut v = Vec::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            v.push((name.to_owned(), labels.to_owned(), value));
        }
        Metrics(v)
    }

    /// Sum over every series of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, _, v)| v)
            .sum()
    }

    /// Sum over the series of `name` whose label `key` is `value`.
    pub fn sum_where(&self, name: &str, key: &str, value: &str) -> f64 {
        let want = format!("{key}=\"{value}\"");
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && l.split(',').any(|kv| kv == want))
            .map(|(_, _, v)| v)
            .sum()
    }
}

/// CPU buckets, in the order the report and the plot show them.
pub const STAGES: [&str; 10] = [
    "rtsp+async",
    "decode",
    "detect",
    "track+rules",
    "publish",
    "store",
    "kafka clients",
    "other",
    "camsim",
    "broker",
];
/// Buckets that are not the node's own work (the simulated cameras, the broker process).
pub const EXTERNAL: [&str; 2] = ["camsim", "broker"];

pub fn stage_index(name: &str) -> usize {
    STAGES.iter().position(|s| *s == name).expect("known stage")
}

fn classify(comm: &str) -> &'static str {
    match comm {
        c if c.starts_with("xl-e2e-rt") => "rtsp+async",
        c if c.starts_with("xl-decode") => "decode",
        c if c.starts_with("detector-") => "detect",
        c if c.starts_with("analyzer-post") => "track+rules",
        c if c.starts_with("alert-publish") => "publish",
        c if c.starts_with("alert-store") => "store",
        c if c.starts_with("rdk:") => "kafka clients",
        c if c.starts_with("xl-e2e-sim") => "camsim",
        _ => "other",
    }
}

/// CPU seconds so far per bucket of [`STAGES`] (threads that have exited are not counted, so
/// take differences over windows in which the pipeline's threads live throughout).
#[derive(Clone, Debug, Default)]
pub struct CpuSample {
    pub at: Option<std::time::Instant>,
    pub secs: [f64; STAGES.len()],
    /// Unclassified thread names seen (for the "other" bucket's diagnosis).
    pub other_names: Vec<String>,
}

impl CpuSample {
    pub fn take(broker_pid: Option<u32>) -> CpuSample {
        let mut s = CpuSample {
            at: Some(std::time::Instant::now()),
            ..CpuSample::default()
        };
        for t in proc::threads() {
            let bucket = classify(&t.name);
            if bucket == "other" && !s.other_names.contains(&t.name) {
                s.other_names.push(t.name.clone());
            }
            s.secs[stage_index(bucket)] += t.cpu.as_secs_f64();
        }
        if let Some(pid) = broker_pid {
            s.secs[stage_index("broker")] = proc::process_cpu_s(pid);
        }
        s
    }

    /// Cores used per bucket between `self` and a later sample.
    pub fn cores_until(&self, later: &CpuSample) -> [f64; STAGES.len()] {
        let dt = match (self.at, later.at) {
            (Some(a), Some(b)) => (b - a).as_secs_f64().max(1e-3),
            _ => 1.0,
        };
        let mut out = [0.0; STAGES.len()];
        for (i, o) in out.iter_mut().enumerate() {
            *o = ((later.secs[i] - self.secs[i]) / dt).max(0.0);
        }
        out
    }
}

/// Percentile `q` (0..=100) of sorted values, nearest rank; `None` when empty.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_series_and_sums_by_label() {
        let m = Metrics::parse(
            "# TYPE x counter\n\
             x_total{node=\"n\",camera=\"a\",reason=\"queue_full\"} 3\n\
             x_total{node=\"n\",camera=\"b\",reason=\"decoder_busy\"} 4\n\
             y 2.5\n\
             h_sum{node=\"n\"} 10\n",
        );
        assert_eq!(m.sum("x_total"), 7.0);
        assert_eq!(m.sum_where("x_total", "reason", "queue_full"), 3.0);
        assert_eq!(m.sum("y"), 2.5);
        assert_eq!(m.sum("h_sum"), 10.0);
        assert_eq!(m.sum("missing"), 0.0);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
