//! Logs and metrics for the process: `tracing` (pretty or JSON, RUST_LOG overrides the
//! configured level) and a Prometheus recorder rendered by the `/metrics` endpoint.

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};
use xueliang_core::config::LogFormat;

/// Installs the global tracing subscriber. `level` is used when RUST_LOG is unset.
pub fn init_tracing(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: tests and repeated calls in one process must not panic.
    let _ = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
        // Colours only for a terminal: a log file or journal would keep the escape codes.
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

/// Installs the Prometheus recorder and registers the process-wide metrics.
pub fn init_metrics(node: &str) -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .add_global_label("node", node)
        .install_recorder()
        .context("installing the Prometheus metrics recorder")?;
    xueliang_core::metrics::describe_common();
    metrics::gauge!(xueliang_core::metrics::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"))
        .set(1.0);
    Ok(handle)
}
