//! The push between dispatchers that share PostgreSQL: every change a dispatcher publishes is
//! sent with `NOTIFY`, and every dispatcher (the sender too) `LISTEN`s and delivers what
//! arrives to the desks connected to it.
//!
//! Why PostgreSQL and not a Kafka topic: the dispatchers already share the database, a
//! notification reaches the listeners about a millisecond after it is sent on loopback (a
//! topic on the test broker adds its fetch wait, tens of ms), and there is nothing more to
//! create, retain or compact. `NOTIFY` payloads are limited to 8000 bytes: a larger change is
//! replaced by a resync (the desks reload their queue from the API).
//!
//! The push is a hint, the store is the truth: when the listening connection drops, the
//! relay reconnects and tells its desks to resync, since notifications sent meanwhile are
//! gone. Both connections run on threads of their own (the driver is blocking).

use crate::push::{Hub, Relayed};
use postgres::fallible_iterator::FallibleIterator;
use std::sync::mpsc;
use std::time::Duration;
use xueliang_core::shutdown::Shutdown;

/// The notification channel.
pub const CHANNEL: &str = "xueliang_push";
/// PostgreSQL refuses longer `NOTIFY` payloads.
const MAX_PAYLOAD: usize = 7999;
/// Changes waiting for the sender thread.
const QUEUE: usize = 4096;

const RELAYED_TOTAL: &str = "xueliang_dispatcher_push_relayed_total";

/// Starts the relay for `hub` on the database at `url`: from now on the hub's changes go
/// through PostgreSQL. Returns the two threads.
pub fn start(
    config: postgres::Config,
    hub: &Hub,
    shutdown: &Shutdown,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let (tx, rx) = mpsc::sync_channel::<Relayed>(QUEUE);
    let sender = {
        let config = config.clone();
        let hub = hub.clone();
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name("push-notify".into())
            .spawn(move || send_loop(config, rx, hub, shutdown))?
    };
    let listener = {
        let hub = hub.clone();
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name("push-listen".into())
            .spawn(move || listen_loop(config, hub, shutdown))?
    };
    hub.relay_through(tx);
    Ok(vec![sender, listener])
}

fn connect(config: &postgres::Config, shutdown: &Shutdown) -> Option<postgres::Client> {
    let mut wait = Duration::from_millis(200);
    loop {
        match config.connect(postgres::NoTls) {
            Ok(c) => return Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "push relay cannot reach PostgreSQL; retrying");
                if shutdown.is_triggered() {
                    return None;
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn send_loop(config: postgres::Config, rx: mpsc::Receiver<Relayed>, hub: Hub, shutdown: Shutdown) {
    let mut client = None;
    while let Ok(r) = rx.recv() {
        let mut payload = serde_json::to_string(&r).expect("a push serialises");
        if payload.len() > MAX_PAYLOAD {
            payload = serde_json::to_string(&Relayed::Resync).expect("a push serialises");
        }
        if client.is_none() {
            client = connect(&config, &shutdown);
        }
        let Some(c) = client.as_mut() else {
            return; // shutting down
        };
        match c.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload]) {
            Ok(_) => ::metrics::counter!(RELAYED_TOTAL).increment(1),
            Err(e) => {
                tracing::warn!(error = %e, "push relay could not notify; delivering here only");
                client = None;
                hub.deliver(r);
                hub.deliver(Relayed::Resync);
            }
        }
    }
}

fn listen_loop(config: postgres::Config, hub: Hub, shutdown: Shutdown) {
    let mut first = true;
    while !shutdown.is_triggered() {
        let Some(mut client) = connect(&config, &shutdown) else {
            return;
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::warn!(error = %e, "push relay cannot LISTEN; retrying");
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        if !first {
            // Notifications sent while this connection was down are lost.
            hub.deliver(Relayed::Resync);
        }
        first = false;
        let mut notifications = client.notifications();
        loop {
            // A fresh iterator each time: after one timeout the driver's iterator keeps an
            // expired timer and stops reading the socket.
            match notifications
                .timeout_iter(Duration::from_millis(250))
                .next()
            {
                Ok(Some(n)) => match serde_json::from_str::<Relayed>(n.payload()) {
                    Ok(r) => hub.deliver(r),
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring a push notification this version cannot read");
                        hub.deliver(Relayed::Resync);
                    }
                },
                Ok(None) => {
                    if shutdown.is_triggered() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "push relay lost its PostgreSQL connection; reconnecting");
                    break;
                }
            }
        }
    }
}
