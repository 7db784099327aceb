//! The live push: every incident change that should notify goes to every connected desk that
//! may see it.
//!
//! Design decision: a `tokio::sync::broadcast` channel. Publishing never waits (the consumer
//! and the API must not stall on a slow browser); a subscriber that falls more than
//! [`CAPACITY`] changes behind is told so (`Lagged`) and the desk reloads its queue from the
//! API, so nothing is silently lost — the store is the source of truth, the push is a hint.
//! A change is serialised once, when published, not once per connected desk; with nobody
//! connected it is not serialised at all.

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
}

pub const CAPACITY: usize = 4096;

const PUSHED_TOTAL: &str = "xueliang_dispatcher_push_changes_total";

#[derive(Clone, Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Push>>,
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
        }
    }

    /// Publishes a change if it should notify (silenced changes are recorded, not pushed).
    pub fn publish(&self, change: IncidentChange) {
        if !change.notify {
            return;
        }
        ::metrics::counter!(PUSHED_TOTAL).increment(1);
        if self.tx.receiver_count() == 0 {
            return; // nobody is watching live
        }
        let json = serde_json::to_string(&change).expect("an incident change serialises");
        let _ = self
            .tx
            .send(Arc::new(Push::Incident(Box::new(change), json.into())));
    }

    pub fn publish_duty(&self, level: DutyLevel) {
        let _ = self.tx.send(Arc::new(Push::DutyLevel(level)));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Push>> {
        self.tx.subscribe()
    }
}
