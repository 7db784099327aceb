//! Command-line interface. Every role and tool is a subcommand of the one `xueliang` binary.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Default config of the single-node demo, relative to the repository root.
pub const DEFAULT_CONFIG: &str = "deploy/single-node/xueliang.toml";

#[derive(Parser, Debug)]
#[command(
    name = "xueliang",
    version,
    about = "雪亮 xueliang — watches every camera so the desk doesn't have to",
    long_about = "xueliang pulls RTSP streams from surveillance cameras, detects events with an \
ONNX model, publishes alerts to Kafka and routes each one to the police-station desk \
(三中心合一) responsible for the place it happened.\n\n\
New here? `./xl demo` sets up everything and runs the single-node demo; \
`xueliang check-config deploy/single-node/xueliang.toml` explains the configuration.",
    after_help = "Logs: set RUST_LOG (e.g. RUST_LOG=debug) to override the configured level."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline: every role in one process (the single-node default), or only the
    /// roles named with --role.
    Run(RunArgs),
    /// Serve simulated cameras over RTSP (rtsp://127.0.0.1:PORT/cam/{i}) for tests and benches.
    Camsim(CamsimArgs),
    /// Manage detection models: list what is known, fetch and convert, verify.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Run decode, detection, tracking and rules over a video file and print JSON lines
    /// (one per analysed frame and one per rule event). For checking a model and tuning zones.
    AnalyzeFile(AnalyzeFileArgs),
    /// Measure throughput and latency against the limits measured in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Validate a configuration (xueliang.toml plus the camera inventory and jurisdictions it
    /// names) and print a summary; every error names the file, the key and what to change.
    CheckConfig {
        /// Path to xueliang.toml.
        path: PathBuf,
    },
    /// Publish one test alert to the configured broker (checks routes and desks end to end).
    SendAlert(crate::cmd::send_alert::SendAlertArgs),
    /// Manage desk users (each belongs to one station desk or to the district centre).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Print or write the JSON Schemas of the wire contract (Alert v1, Camera, Desk, Incident).
    Schema {
        /// Write one file per type into this directory instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Path to xueliang.toml.
    #[arg(long, short, default_value = DEFAULT_CONFIG, env = "XUELIANG_CONFIG")]
    pub config: PathBuf,
    /// Run only these roles (repeatable); default: both in one process.
    #[arg(long, value_enum)]
    pub role: Vec<Role>,
    /// Override `http.listen` (the /metrics and /healthz address of this process).
    #[arg(long)]
    pub http_listen: Option<std::net::SocketAddr>,
    /// Override `dispatcher.listen` (the desk UI and /api/v1 address).
    #[arg(long)]
    pub api_listen: Option<std::net::SocketAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum Role {
    /// The cameras of this node, end to end up to Kafka: RTSP sessions, sampling, decode,
    /// camera health, detection, tracking, rules, evidence and the alert spool. Ingest and
    /// analysis never run apart: decoded frames do not cross the network.
    Edge,
    /// Alerts from Kafka to desks: routing, incidents, escalation, the desk API and UI.
    Dispatcher,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Edge, Role::Dispatcher];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Edge => xueliang_analyzer::edge::ROLE,
            Role::Dispatcher => xueliang_dispatcher::role::ROLE,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct CamsimArgs {
    /// Number of cameras to serve (rtsp://HOST:PORT/cam/0 … cam/N-1).
    #[arg(long, default_value_t = 4)]
    pub cameras: usize,
    /// TCP port (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8554)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: std::net::IpAddr,
    /// What to serve: vtest (the real street clip), 360p, 720p, 1080p (synthetic load), each
    /// in H.264, or as H.265 with an -h265 suffix (vtest-h265, 360p-h265, …), or a path to an
    /// H.264 or H.265 Annex-B file. Presets are encoded once into the cache.
    #[arg(long, default_value = "vtest")]
    pub clip: String,
    /// Frame rate to replay at (default: the clip's, 25).
    #[arg(long)]
    pub fps: Option<f32>,
    /// Require credentials, as USER:PASS.
    #[arg(long)]
    pub auth: Option<String>,
    /// digest or basic.
    #[arg(long, default_value = "digest")]
    pub auth_scheme: String,
    /// Socket send buffer per session in bytes (0 = kernel autotuning).
    #[arg(long, default_value_t = 256 * 1024)]
    pub send_buffer: u32,
    /// Cameras the fault switches apply to: "all" or a list such as "0,3,5-9".
    #[arg(long, default_value = "all")]
    pub fault_cameras: String,
    /// Fault: close each connection after this long (e.g. 30s), every time.
    #[arg(long)]
    pub drop_every: Option<String>,
    /// Fault: stop sending media after this long but keep the connection open.
    #[arg(long)]
    pub stall_after: Option<String>,
    /// Fault: corrupt the slice data of this fraction of packets (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub corrupt_ratio: f32,
    /// Fault: answer every request with 401.
    #[arg(long)]
    pub refuse_auth: bool,
    /// Fault: announce this codec in the SDP instead of the clip's (e.g. MP4V-ES, or H265 over
    /// an H.264 clip) to provoke "unsupported codec".
    #[arg(long)]
    pub announce_codec: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ModelsAction {
    /// List the models this build knows (from models/*/manifest.toml) and whether each is ready.
    List,
    /// Download, convert and verify a model into the cache (idempotent).
    Fetch {
        #[arg(default_value = "nanodet-m-416")]
        name: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct AnalyzeFileArgs {
    /// Video file to analyse.
    #[arg(long)]
    pub video: PathBuf,
    /// Start at this many seconds into the video.
    #[arg(long)]
    pub from_s: Option<f64>,
    /// Stop at this many seconds into the video.
    #[arg(long)]
    pub to_s: Option<f64>,
    /// xueliang.toml whose camera rules and analyzer settings to use.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// With --config: the camera whose rules apply (default: the first camera with rules).
    #[arg(long)]
    pub camera: Option<String>,
    /// Analyse at most this many frames per second (default: the camera's sampling rate when
    /// it is "<N>fps", else every frame).
    #[arg(long)]
    pub fps: Option<f32>,
    /// Use this ONNX model (a .onnx file or a folder with model.onnx) instead of the cache.
    #[arg(long)]
    pub model: Option<PathBuf>,
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
    Dispatch(crate::cmd::bench_dispatch::Options),
    /// The whole pipeline: maximum cameras per node per sampling policy, end-to-end latency,
    /// each stage against its raw limit measured in the same run. Starts camsim, tansu and
    /// the single-node pipeline in-process; writes a JSON file, a Markdown report and SVG
    /// plots to --out; the last stdout line is the JSON summary.
    E2e(crate::cmd::bench_e2e::Options),
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

#[derive(Subcommand, Debug)]
pub enum UsersAction {
    /// Add a user (or change one with --replace). The password is read from the
    /// XUELIANG_PASSWORD environment variable, else from the first line of standard input.
    Add {
        /// Path to xueliang.toml (names the database and the desks).
        #[arg(long, short, default_value = DEFAULT_CONFIG, env = "XUELIANG_CONFIG")]
        config: PathBuf,
        /// Login name.
        #[arg(long)]
        username: String,
        /// The desk the user works at (a `[[desk]] id` of the configuration).
        #[arg(long)]
        desk: String,
        /// Name shown in the UI and the audit trail (default: the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// Change an existing user (and end its sessions) instead of failing.
        #[arg(long)]
        replace: bool,
    },
    /// List users and their desks.
    List {
        #[arg(long, short, default_value = DEFAULT_CONFIG, env = "XUELIANG_CONFIG")]
        config: PathBuf,
    },
}
