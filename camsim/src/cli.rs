//! The simulator's command line, shared by its own binary (`xueliang-camsim`) and the
//! `xueliang camsim` subcommand that forwards to it.

use crate::{Auth, CamsimOptions, Faults};
use anyhow::{Context, anyhow};
use std::net::SocketAddr;
use xueliang_core::shutdown::Shutdown;

/// Serve simulated cameras over RTSP (rtsp://HOST:PORT/cam/{i}).
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

/// Prepares the clip, serves until SIGINT/SIGTERM. Prints `camsim listening on rtsp://ADDR/cam/{0..N}`
/// first (scripts read the port from it when `--port 0` was given).
pub async fn run(args: CamsimArgs) -> anyhow::Result<()> {
    let spec = args.clip.clone();
    let clip = tokio::task::spawn_blocking(move || {
        crate::resolve_clip(&spec, &crate::default_cache_dir())
    })
    .await?
    .with_context(|| format!("preparing clip {:?}", args.clip))?;
    let dur = |s: &Option<String>, flag: &str| -> anyhow::Result<_> {
        s.as_deref()
            .map(crate::parse_duration)
            .transpose()
            .map_err(|e| anyhow!("--{flag}: {e}"))
    };
    let faults = Faults {
        cameras: args
            .fault_cameras
            .parse()
            .map_err(|e| anyhow!("--fault-cameras: {e}"))?,
        drop_every: dur(&args.drop_every, "drop-every")?,
        stall_after: dur(&args.stall_after, "stall-after")?,
        corrupt_ratio: args.corrupt_ratio,
        refuse_auth: args.refuse_auth,
        announce_codec: args.announce_codec.clone(),
    };
    let mut opts = CamsimOptions::new(args.cameras, clip);
    opts.listen = SocketAddr::new(args.listen, args.port);
    opts.fps = args.fps;
    opts.send_buffer_bytes = args.send_buffer;
    opts.faults = faults;
    if let Some(a) = &args.auth {
        let mut auth = Auth::parse_user_pass(a).map_err(|e| anyhow!("--auth: {e}"))?;
        auth.scheme = args
            .auth_scheme
            .parse()
            .map_err(|e| anyhow!("--auth-scheme: {e}"))?;
        opts.auth = Some(auth);
    }
    let handle = crate::start(opts).await?;
    // Scripts parse this line to find the port when --port 0 was given.
    println!(
        "camsim listening on rtsp://{}/cam/{{0..{}}}",
        handle.local_addr(),
        handle.cameras().saturating_sub(1)
    );
    let shutdown = Shutdown::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        on_signal.trigger();
    });
    crate::run_until(handle, shutdown).await;
    Ok(())
}

/// Logs to stderr at `info` (override with `RUST_LOG`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
