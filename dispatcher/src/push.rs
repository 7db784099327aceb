//! The live push: every incident change that should notify goes to every connected desk that
//! may see it.
//!
//! Design decision: a `tokio::sync::broadcast` channel. Publishing never waits (the consumer
//! and the API must not stall on a slow browser); a subscriber that falls more than
//! [`CAPACITY`] changes behind is told so (`Lagged`) and the desk reloads its queue from the
//! API, so nothing is silently lost — the store is the source of truth, the push is a hint.
//! A change is serialised once, when published, not once per connected desk; with nobody
//! connected it is not serialised at all.
//!
//! With several dispatchers on one PostgreSQL, a desk connected to one of them must also see
//! what the others consumed or changed: the hub then hands each change to a relay
//! (`push_relay`, PostgreSQL `NOTIFY`) and delivers only what comes back from it, its own
//! changes included, so every dispatcher's desks see the same stream in the same order.

use crate::store::IncidentChange;
use std::sync::Arc;
use tokio::sync::broadcast;
use xueliang_core::contract::DutyLevel;

/// One pushed message.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// The change, and its JSON as every subscriber sends it.
    Incident(Box<IncidentChange>, Arc<str>),
    /// Every desk shows the duty level in its banner.
    DutyLevel(DutyLevel),
    /// Changes may have been missed (the relay reconnected, or a change was too large to
    /// relay): desks reload their queue from the API.
    Resync,
}

/// A change as it travels between dispatchers.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "push", rename_all = "snake_case")]
pub enum Relayed {
    Incident { change: Box<IncidentChange> },
    DutyLevel { level: DutyLevel },
    Resync,
}

pub const CAPACITY: usize = 4096;

const PUSHED_TOTAL: &str = "xueliang_dispatcher_push_changes_total";
const RELAY_DROPPED_TOTAL: &str = "xueliang_dispatcher_push_relay_dropped_total";

#[derive(Clone, Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Push>>,
    /// Set once when a relay runs: published changes go there, not straight to the desks.
    relay: Arc<std::sync::OnceLock<std::sync::mpsc::SyncSender<Relayed>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        Hub {
            tx: broadcast::channel(CAPACITY).0,
            relay: Arc::default(),
        }
    }

    /// Publishes a change if it should notify (silenced changes are recorded, not pushed).
    pub fn publish(&self, change: IncidentChange) {
        if !change.notify {
            return;
        }
        ::metrics::counter!(PUSHED_TOTAL).increment(1);
        self.send(Relayed::Incident {
            change: Box::new(change),
        });
    }

    pub fn publish_duty(&self, level: DutyLevel) {
        self.send(Relayed::DutyLevel { level });
    }

    /// Routes every later publish through `relay` (see the module doc). Once per hub.
    pub fn relay_through(&self, relay: std::sync::mpsc::SyncSender<Relayed>) {
        let _ = self.relay.set(relay);
    }

    fn send(&self, r: Relayed) {
        if let Some(relay) = self.relay.get() {
            match relay.try_send(r) {
                Ok(()) => return,
                Err(std::sync::mpsc::TrySendError::Full(r))
                | Err(std::sync::mpsc::TrySendError::Disconnected(r)) => {
                    // The relay is behind or gone: this dispatcher's desks still get the
                    // change, and every desk is told to reload.
                    ::metrics::counter!(RELAY_DROPPED_TOTAL).increment(1);
                    self.deliver(r);
                    self.deliver(Relayed::Resync);
                    return;
                }
            }
        }
        self.deliver(r);
    }

    /// Hands a change to this process's subscribers (the desks connected here).
    pub fn deliver(&self, r: Relayed) {
        if self.tx.receiver_count() == 0 {
            return; // nobody is watching live
        }
        let push = match r {
            Relayed::Incident { change } => {
                let json = serde_json::to_string(&change).expect("an incident change serialises");
                Push::Incident(change, json.into())
            }
            Relayed::DutyLevel { level } => Push::DutyLevel(level),
            Relayed::Resync => Push::Resync,
        };
        let _ = self.tx.send(Arc::new(push));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Push>> {
        self.tx.subscribe()
    }
}
