//! Watching the watchers: the dispatcher's side of camera status.
//!
//! Every edge writes each camera's status to the status topic every few seconds
//! (`xueliang_analyzer::status`). Each dispatcher reads it ([`board`]) and, once a second,
//! [`judge`]s it against the inventory and the open camera-fault incidents:
//! - a camera nobody has reported for `cluster.unwatched_after_s` opens a `camera_unwatched`
//!   incident (routed like every camera fault, to video maintenance). A normal takeover
//!   cannot: config validation keeps the limit above the node timeout plus two status
//!   intervals and a connect;
//! - a camera-fault incident (including `camera_unwatched`) closes itself, audited as the
//!   system with the status that proved it, when the camera's own live status shows the
//!   fault is over.
//!
//! Design decisions:
//! - **No clock is compared across machines for silence**: it is measured by this
//!   dispatcher's own monotonic clock, from when it read a record.
//! - **Every dispatcher judges, one incident results**: the unwatched alert's id is made from
//!   the camera and the offset of its latest status, which all dispatchers read alike, so a
//!   second copy is a duplicate the store drops; closing is a compare-and-set in the store,
//!   so a second close is a conflict this ignores.
//! - The desks' camera list and the centre view show the board (state, owning node, frame
//!   rates, how long ago the camera was heard).

pub mod board;
pub mod judge;

use crate::catalog::Catalog;
use crate::push::Hub;
use crate::routing::Router;
use crate::store::{Action, Actor, AlertRecord, Store, StoreError};
use board::Board;
use chrono::Utc;
use judge::{Decision, Judge};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use xueliang_core::CameraId;
use xueliang_core::contract::{AlertV1, CameraStatusV1, Disposition, EventType, Severity};
use xueliang_core::shutdown::Shutdown;

pub const UNWATCHED_RAISED: &str = "xueliang_dispatcher_cameras_unwatched_raised_total";
pub const UNWATCHED_NOW: &str = "xueliang_dispatcher_cameras_unwatched";
pub const AUTO_CLOSED: &str = "xueliang_dispatcher_camera_incidents_auto_closed_total";

/// The rule id of the dispatcher's own unwatched alerts.
pub const UNWATCHED_RULE: &str = "camera-unwatched";

/// What the watcher task needs.
pub struct Watcher {
    pub board: Board,
    pub store: Arc<dyn Store>,
    pub hub: Hub,
    pub router: Arc<Router>,
    pub catalog: Catalog,
    /// `None`: only recoveries are acted on.
    pub unwatched_after: Option<Duration>,
}

impl Watcher {
    /// Judges once a second until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        // With the unwatched check off, recoveries still need a freshness window: a status
        // read within the last minute counts as the camera's current word.
        let mut judge = Judge::new(self.unwatched_after.unwrap_or(Duration::from_secs(60)));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tick.tick() => {}
            }
            let open = match self.store.camera_faults().await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read open camera faults; judging again in a second");
                    continue;
                }
            };
            let unwatched_now = open
                .iter()
                .filter(|r| r.event_type == EventType::CameraUnwatched)
                .count();
            metrics::gauge!(UNWATCHED_NOW).set(unwatched_now as f64);
            // The inventory may change while running (the inventory topic).
            let watched: Vec<CameraId> = match self.unwatched_after {
                Some(_) => self
                    .catalog
                    .snapshot()
                    .cameras
                    .iter()
                    .filter(|c| c.config.enabled)
                    .map(|c| c.config.id.clone())
                    .collect(),
                None => Vec::new(),
            };
            let decisions = judge.judge(Instant::now(), &self.board.lock(), &watched, &open);
            for d in decisions {
                if let Err(e) = self.act(d).await {
                    tracing::warn!(error = %e, "camera-status decision not stored; it is judged again");
                }
            }
        }
    }

    async fn act(&self, d: Decision) -> Result<(), StoreError> {
        match d {
            Decision::Unwatched {
                camera,
                last,
                episode,
                silent,
            } => {
                let alert = unwatched_alert(&camera, last.as_deref(), episode, silent);
                let config = self.catalog.camera(&camera);
                let route = self.router.route(&alert, config.as_ref());
                let rec = AlertRecord::new(alert, route);
                let mut ins = self.store.insert_batch(Arc::from([rec])).await?;
                if let Some(ins) = ins.pop()
                    && ins.new
                {
                    metrics::counter!(UNWATCHED_RAISED).increment(1);
                    tracing::warn!(camera = %camera, silent_s = silent.as_secs(), last_node = last.as_ref().map(|s| s.node.as_str()), "camera unwatched: no edge reports it");
                    if let Some(change) = ins.incident {
                        self.hub.publish(change);
                    }
                }
            }
            Decision::Recovered {
                incident,
                camera,
                event_type,
                by,
            } => {
                let note = format!(
                    "camera recovered: {} on {} at {} ({} fps analysed)",
                    by.state.as_str(),
                    by.node,
                    by.observed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    by.fps_analysed
                );
                let action = Action::Close {
                    disposition: Disposition::Resolved,
                    note: note.clone(),
                };
                match self.store.act(incident, action, Actor::system()).await {
                    Ok(change) => {
                        metrics::counter!(AUTO_CLOSED, "event_type" => event_type.as_str())
                            .increment(1);
                        tracing::info!(camera = %camera, incident = %incident, event_type = event_type.as_str(), note, "camera-fault incident closed automatically");
                        self.hub.publish(change);
                    }
                    // Another dispatcher (or an operator) closed it first.
                    Err(StoreError::Conflict(_)) | Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

/// The unwatched alert of `camera` for the episode after its status at offset `episode`:
/// the same id on every dispatcher.
pub fn unwatched_alert(
    camera: &CameraId,
    last: Option<&CameraStatusV1>,
    episode: i64,
    silent: Duration,
) -> AlertV1 {
    let now = Utc::now();
    let mut alert = AlertV1::new(
        camera.clone(),
        EventType::CameraUnwatched,
        Severity::Major,
        UNWATCHED_RULE,
        now,
    );
    alert.alert_id = episode_id(camera, last, episode);
    alert.summary = match last {
        Some(s) => format!(
            "no edge has reported this camera for {} s; last: {} on {} at {}",
            silent.as_secs(),
            s.state.as_str(),
            s.node,
            s.observed_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => format!(
            "no edge has reported this camera for {} s (never reported)",
            silent.as_secs()
        ),
    };
    alert
}

/// A UUID v7 every dispatcher computes alike: the time part from the last status's time,
/// the rest from the camera and the episode (the hash is the cluster's frozen one).
fn episode_id(camera: &CameraId, last: Option<&CameraStatusV1>, episode: i64) -> Uuid {
    use xueliang_cluster::rendezvous::hash;
    let ms = last.map_or(0, |s| s.observed_at.timestamp_millis().max(0) as u64);
    let tag = format!("unwatched/{episode}");
    let (a, b) = (hash(camera.as_str(), &tag), hash(&tag, camera.as_str()));
    let mut rand = [0u8; 10];
    rand[..8].copy_from_slice(&a.to_be_bytes());
    rand[8..].copy_from_slice(&b.to_be_bytes()[..2]);
    uuid::Builder::from_unix_timestamp_millis(ms, &rand).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dispatcher_names_an_episode_alike_and_the_next_one_differently() {
        let cam = CameraId::new("44030400001320000001").unwrap();
        let a = unwatched_alert(&cam, None, 5, Duration::from_secs(31));
        let b = unwatched_alert(&cam, None, 5, Duration::from_secs(44));
        assert_eq!(a.alert_id, b.alert_id);
        assert_eq!(a.alert_id.get_version_num(), 7, "a valid Alert v1 id");
        assert_ne!(
            a.alert_id,
            unwatched_alert(&cam, None, 6, Duration::ZERO).alert_id
        );
        let other = CameraId::new("44030400001320000002").unwrap();
        assert_ne!(
            a.alert_id,
            unwatched_alert(&other, None, 5, Duration::ZERO).alert_id
        );
        a.validate().unwrap();
        assert!(a.summary.contains("never reported"), "{}", a.summary);
    }
}
