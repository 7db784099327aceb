//! Binding and serving HTTP: one way for every listener of a node (the desk API here, and the
//! binary's `/metrics` + `/healthz`), so each error names the setting to change.

use axum::Router;
use std::net::SocketAddr;
use xueliang_core::shutdown::Shutdown;

/// Binds a listening socket for `what`; the error names the setting to change. Call from
/// within the tokio runtime.
pub fn bind(
    addr: SocketAddr,
    what: &str,
    setting: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr} for {what}: {e} (change {setting})")
    })?;
    listener.set_nonblocking(true)?;
    Ok(tokio::net::TcpListener::from_std(listener)?)
}

/// Serves `app` until `shutdown` triggers, then drains. Every handler can read the client's
/// address (`ConnectInfo`): the desk API records it in the audit trail.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: Shutdown,
    what: &'static str,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.wait().await })
    .await
    .map_err(|e| anyhow::anyhow!("{what} failed: {e}"))
}
