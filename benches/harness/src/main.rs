//! `xueliang-bench`: the measurement harness. Every benchmark reports ratios against a limit
//! measured in the same run (raw decoder, raw ONNX Runtime, raw broker), so its numbers
//! survive a noisy machine. It drives the product's own entry points
//! (`xueliang_analyzer::edge::start`, `xueliang_dispatcher::role::start`), never a copy.
//! How to run each bench, and the latest results: `benches/RESULTS.md`.

mod cluster;
mod dispatch;
mod e2e;
mod ingest;
mod publish;
mod stages;
mod tansu;

use clap::{Parser, Subcommand, ValueEnum};
use xueliang::telemetry;
use xueliang_core::config::LogFormat;

/// Default config of the single-node demo, relative to the repository root.
pub const DEFAULT_CONFIG: &str = "deploy/single-node/xueliang.toml";

#[derive(Parser, Debug)]
#[command(
    name = "xueliang-bench",
    version,
    about = "Measure xueliang's throughput and latency against the limits measured in the same run"
)]
struct Cli {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// Concurrent camera sessions against an in-process camsim: frames received, CPU and
    /// memory per camera.
    Ingest {
        #[arg(long, default_value_t = 500)]
        cameras: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Clip preset (vtest, 360p, 720p, 1080p; add -h265 for H.265) or an .h264/.h265 file.
        #[arg(long, default_value = "360p")]
        clip: String,
        /// Also decode keyframes (the production path) instead of discarding after receive.
        #[arg(long)]
        decode: bool,
        /// Decoder threads when --decode is given.
        #[arg(long, default_value_t = 1)]
        decoder_workers: usize,
    },
    /// Decode stage throughput vs the raw decoder on the same clip, in the same run.
    Decode {
        /// Clip preset (vtest, 360p, 720p, 1080p; add -h265 for H.265) or an .h264/.h265 file.
        #[arg(long, default_value = "vtest")]
        clip: String,
        /// Passes over the clip per variant.
        #[arg(long, default_value_t = 2)]
        loops: usize,
    },
    /// Detector stage throughput vs raw ONNX Runtime at batch 1/4/8 on real frames.
    Detect {
        /// Seconds to measure each variant.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// ONNX Runtime intra-op threads per session.
        #[arg(long, default_value_t = 1)]
        intra_threads: usize,
    },
    /// Alerts routed and persisted per second vs the broker's raw consume rate in the same
    /// run, and alert → push latency at a paced rate. Starts its own broker (tansu) unless
    /// --broker is given.
    Dispatch(crate::dispatch::Options),
    /// The whole pipeline: maximum cameras per node per sampling policy, end-to-end latency,
    /// each stage against its raw limit measured in the same run. Starts camsim, tansu and
    /// the single-node pipeline in-process; writes a JSON file, a Markdown report and SVG
    /// plots to --out; the last stdout line is the JSON summary.
    E2e(crate::e2e::Options),
    /// The cluster as processes (tansu, PostgreSQL, camsim, N edges, two dispatchers): takeover
    /// time after kill -9 of an edge, cameras restarted or analysed twice, alerts lost or
    /// duplicated across an edge and a dispatcher kill, frames analysed vs number of edges
    /// against raw ONNX Runtime. Runs the `xueliang` binary next to this one; needs
    /// XUELIANG_TEST_PG. The last stdout line is the JSON summary.
    Cluster(crate::cluster::Options),
    /// Alerts through the analyzer's publish path (spool + fsync + idempotent produce) vs the
    /// broker's raw idempotent produce of records of the same size, in the same run.
    Publish(crate::publish::Options),
}

/// Where `bench dispatch` stores alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchDatabase {
    Sqlite,
    Postgres,
}

impl BenchDatabase {
    pub fn as_str(self) -> &'static str {
        match self {
            BenchDatabase::Sqlite => "sqlite",
            BenchDatabase::Postgres => "postgres",
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init_tracing(LogFormat::Pretty, "warn");
    match cli.what {
        BenchWhat::Ingest {
            cameras,
            seconds,
            clip,
            decode,
            decoder_workers,
        } => stages::ingest(cameras, seconds, &clip, decode, decoder_workers),
        BenchWhat::Decode { clip, loops } => stages::decode(&clip, loops),
        BenchWhat::Detect {
            seconds,
            intra_threads,
        } => stages::detect(seconds, intra_threads),
        BenchWhat::Dispatch(opts) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("bench-rt")
            .build()?
            .block_on(dispatch::run(opts)),
        BenchWhat::E2e(opts) => e2e::run(opts),
        BenchWhat::Publish(opts) => publish::run(opts),
        BenchWhat::Cluster(opts) => cluster::run(opts),
    }
}
