//! Following the inventory topic without taking part in camera assignment: every valid camera
//! of the cluster, for processes that need the whole inventory (dispatchers: a camera's place,
//! tier and desk, and the list of cameras somebody must be watching).
//!
//! Reads like the view (`assign()` from the start, nothing published before the topic was
//! read to its end, invalid records skipped and counted) but writes no heartbeat. Camera
//! passwords are not resolved: a dispatcher never connects to a camera, so it needs none of
//! the edges' credentials.

use crate::topics::{self, CatchUp, Record};
use crate::view::InventoryRecords;
use anyhow::Context;
use rdkafka::consumer::BaseConsumer;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use xueliang_core::config::CameraConfig;
use xueliang_core::shutdown::Shutdown;

/// The inventory as last read: every valid camera, ordered by id.
pub type Cameras = Arc<Vec<CameraConfig>>;

/// A running follower; the receiver holds `None` until the topic was read to its end.
pub struct InventoryFollower {
    pub updates: watch::Receiver<Option<Cameras>>,
    thread: std::thread::JoinHandle<()>,
}

impl InventoryFollower {
    pub fn start(brokers: &str, topic: &str, shutdown: Shutdown) -> anyhow::Result<Self> {
        let (tx, rx) = watch::channel(None);
        let (brokers, topic) = (brokers.to_string(), topic.to_string());
        let thread = std::thread::Builder::new()
            .name("inventory-follow".into())
            .spawn(move || follow(&brokers, &topic, &tx, &shutdown))
            .context("spawning the inventory follower")?;
        Ok(InventoryFollower {
            updates: rx,
            thread,
        })
    }

    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Waits for the thread after shutdown was triggered.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

fn connect(brokers: &str, topic: &str) -> anyhow::Result<(BaseConsumer, CatchUp)> {
    let consumer = topics::reader(brokers, "inventory-follow")?;
    let catch_up = topics::assign_compacted(&consumer, brokers, topic)?;
    Ok((consumer, catch_up))
}

fn follow(brokers: &str, topic: &str, tx: &watch::Sender<Option<Cameras>>, shutdown: &Shutdown) {
    let connected = topics::retry_connect(
        "cannot read the inventory topic yet; keeping the inventory file's cameras",
        shutdown,
        |_| false,
        || connect(brokers, topic),
    );
    let Some((consumer, mut catch_up)) = connected else {
        return;
    };
    let mut state = InventoryRecords::default();
    let unresolved = |_: &str| Some(String::new());
    let mut dirty = true;
    while !shutdown.is_triggered() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let r = Record::from_message(&m);
                state.apply(topic, &r, &unresolved);
                catch_up.read(topic, r.partition, r.offset);
                dirty = true;
                continue; // a burst (one `cameras apply`) is published once, when it ends
            }
            Some(Err(e)) => tracing::debug!(topic, error = %e, "inventory read error; retrying"),
            None => catch_up.idle(&consumer),
        }
        if dirty && catch_up.done() {
            dirty = false;
            let cameras: Vec<CameraConfig> = state.cameras.values().cloned().collect();
            metrics::gauge!(crate::view::INVENTORY_CAMERAS).set(cameras.len() as f64);
            metrics::gauge!(crate::view::INVALID_RECORDS).set(state.invalid.len() as f64);
            if tx.borrow().as_deref() != Some(&cameras) {
                tx.send_replace(Some(Arc::new(cameras)));
            }
        }
    }
}
