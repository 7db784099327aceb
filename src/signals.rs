//! Maps SIGINT/SIGTERM onto [`Shutdown`]: the first signal starts a graceful drain, a second
//! one exits at once (an operator who presses Ctrl-C twice means it). SIGHUP calls the
//! reload hook (the single node re-reads its camera inventory).
//!
//! The handler runs on its own thread with its own small runtime: a second Ctrl-C must work
//! even when every worker of the main runtime is stuck (that is when it is pressed).

use tokio::signal::unix::Signal;
use xueliang_core::shutdown::Shutdown;

pub fn install(shutdown: Shutdown, on_hangup: impl Fn() + Send + 'static) -> std::io::Result<()> {
    // Registered on the thread before `install` returns, so a signal that arrives right after
    // start is not missed (and a registration error reaches the caller).
    let (registered_tx, registered) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let rt = match rt {
                Ok(rt) => rt,
                Err(e) => return drop(registered_tx.send(Err(e))),
            };
            rt.block_on(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (mut term, mut int, mut hup) = match (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::hangup()),
                ) {
                    (Ok(t), Ok(i), Ok(h)) => (t, i, h),
                    (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                        return drop(registered_tx.send(Err(e)));
                    }
                };
                let _ = registered_tx.send(Ok(()));
                loop {
                    tokio::select! {
                        _ = next(&mut term, &mut int) => break,
                        _ = hup.recv() => on_hangup(),
                    }
                }
                tracing::info!(
                    "shutdown requested; draining (send the signal again to exit at once)"
                );
                shutdown.trigger();
                next(&mut term, &mut int).await;
                tracing::warn!("second signal: exiting without draining");
                std::process::exit(130);
            })
        })?;
    registered
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread ended")))
}

async fn next(term: &mut Signal, int: &mut Signal) {
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
