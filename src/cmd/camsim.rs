//! `xueliang camsim`: simulated RTSP cameras (see `xueliang_ingest::camsim`).

use crate::cli::CamsimArgs;
use crate::{signals, telemetry};
use anyhow::{Context, anyhow};
use std::net::SocketAddr;
use xueliang_core::config::LogFormat;
use xueliang_core::shutdown::Shutdown;
use xueliang_ingest::camsim::{self, Auth, CamsimOptions, Faults};

pub async fn run(args: CamsimArgs) -> anyhow::Result<()> {
    telemetry::init_tracing(LogFormat::Pretty, "info");
    let _metrics = telemetry::init_metrics("camsim")?;
    let spec = args.clip.clone();
    let clip = tokio::task::spawn_blocking(move || {
        camsim::resolve_clip(&spec, &camsim::default_cache_dir())
    })
    .await?
    .with_context(|| format!("preparing clip {:?}", args.clip))?;
    let dur = |s: &Option<String>, flag: &str| -> anyhow::Result<_> {
        s.as_deref()
            .map(camsim::parse_duration)
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
    let handle = camsim::start(opts).await?;
    // Scripts parse this line to find the port when --port 0 was given.
    println!(
        "camsim listening on rtsp://{}/cam/{{0..{}}}",
        handle.local_addr(),
        handle.cameras().saturating_sub(1)
    );
    let shutdown = Shutdown::new();
    signals::install(shutdown.clone())?;
    camsim::run_until(handle, shutdown).await;
    Ok(())
}
