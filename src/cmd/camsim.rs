//! `xueliang camsim`: forwards to the camera simulator (`xueliang-camsim`), so the demo and
//! scripts need only the one binary.

pub async fn run(args: xueliang_camsim::cli::CamsimArgs) -> anyhow::Result<()> {
    xueliang::telemetry::init_tracing(xueliang_core::config::LogFormat::Pretty, "info");
    xueliang_camsim::cli::run(args).await
}
