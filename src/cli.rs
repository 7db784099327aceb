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
    Camsim(xueliang_camsim::cli::CamsimArgs),
    /// Manage detection models: list what is known, fetch and convert, verify.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Run decode, detection, tracking and rules over a video file and print JSON lines
    /// (one per analysed frame and one per rule event). For checking a model and tuning zones.
    AnalyzeFile(AnalyzeFileArgs),
    /// Validate a configuration (xueliang.toml plus the camera inventory and jurisdictions it
    /// names) and print a summary; every error names the file, the key and what to change.
    CheckConfig {
        /// Path to xueliang.toml.
        path: PathBuf,
    },
    /// The camera inventory of a cluster (a compacted Kafka topic): publish it from a file,
    /// list who runs which camera.
    Cameras {
        #[command(subcommand)]
        action: CamerasAction,
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
    /// Override `node.name` — in a cluster, each node's stable, unique name (a StatefulSet
    /// pod's name, for example).
    #[arg(long, env = "XUELIANG_NODE_NAME")]
    pub node_name: Option<String>,
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

#[derive(Subcommand, Debug)]
pub enum CamerasAction {
    /// Validate a camera inventory file and make the inventory topic match it: new cameras
    /// are added, changed ones replaced, cameras missing from the file removed. Prints the
    /// diff. Running edges apply it within seconds, restarting only the changed cameras.
    Apply {
        /// The inventory (cameras.toml format).
        path: PathBuf,
        /// xueliang.toml naming the brokers, the topics and the desks.
        #[arg(long, short, default_value = DEFAULT_CONFIG, env = "XUELIANG_CONFIG")]
        config: PathBuf,
        /// Print the diff without publishing.
        #[arg(long)]
        dry_run: bool,
        /// Print the diff as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Show the nodes (live or not) and every camera with the edge that owns it.
    List {
        #[arg(long, short, default_value = DEFAULT_CONFIG, env = "XUELIANG_CONFIG")]
        config: PathBuf,
        /// One JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
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
