//! The cameras the dispatcher knows, each with its home desk and place name: what routing
//! reads per alert, what the desks list and map, and what the camera-status watcher expects
//! somebody to watch.
//!
//! It changes while the dispatcher runs: with `cluster.cameras = "kafka"` the dispatcher
//! follows the inventory topic (`xueliang cameras apply`) as the edges do, and a new camera's
//! alerts route with its place from the moment the record is read. Readers take a snapshot
//! (an `Arc`, cheap to clone) and never hold the lock across anything slow.

use crate::api::map::MapView;
use crate::routing::Router;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;
use xueliang_core::config::{Area, CameraConfig};
use xueliang_core::shutdown::Shutdown;
use xueliang_core::{CameraId, DeskId};

/// The inventory as the cluster's follower publishes it.
pub use xueliang_cluster::follow::Cameras;

/// A camera with the desk its alerts go to by default.
#[derive(Debug, Clone)]
pub struct CameraEntry {
    pub config: CameraConfig,
    pub desk_id: DeskId,
    pub jurisdiction: Option<String>,
    pub jurisdiction_name: Option<String>,
}

/// One version of the catalogue.
#[derive(Debug)]
pub struct Snapshot {
    pub cameras: Vec<CameraEntry>,
    index: HashMap<CameraId, usize>,
    pub map: MapView,
}

impl Snapshot {
    /// Home desks are computed once per version, not per request.
    pub fn build(cameras: &[CameraConfig], router: &Router, areas: &[Area]) -> Snapshot {
        let names = |id: &str| areas.iter().find(|a| a.id == id).map(|a| a.name.clone());
        let cameras: Vec<CameraEntry> = cameras
            .iter()
            .map(|c| {
                let r = router.home(c);
                CameraEntry {
                    config: c.clone(),
                    desk_id: r.primary,
                    jurisdiction_name: r.jurisdiction.as_deref().and_then(names),
                    jurisdiction: r.jurisdiction,
                }
            })
            .collect();
        let index = cameras
            .iter()
            .enumerate()
            .map(|(i, c)| (c.config.id.clone(), i))
            .collect();
        Snapshot {
            map: MapView::new(areas, &cameras),
            cameras,
            index,
        }
    }

    pub fn entry(&self, id: &CameraId) -> Option<&CameraEntry> {
        self.index.get(id).map(|&i| &self.cameras[i])
    }
}

/// The current catalogue, replaced whole on each inventory change.
#[derive(Clone)]
pub struct Catalog {
    current: Arc<RwLock<Arc<Snapshot>>>,
    router: Arc<Router>,
    areas: Arc<Vec<Area>>,
}

impl Catalog {
    pub fn new(cameras: &[CameraConfig], router: Arc<Router>, areas: &[Area]) -> Catalog {
        let snap = Snapshot::build(cameras, &router, areas);
        Catalog {
            current: Arc::new(RwLock::new(Arc::new(snap))),
            router,
            areas: Arc::new(areas.to_vec()),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the cameras (the areas and routes stay).
    pub fn replace(&self, cameras: &[CameraConfig]) {
        let snap = Arc::new(Snapshot::build(cameras, &self.router, &self.areas));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = snap;
    }

    /// Replaces the cameras with each inventory `rx` delivers (`cameras` reads it; `None`:
    /// nothing to apply yet) until shutdown. `false` when the sender went away first.
    pub async fn follow<T>(
        &self,
        mut rx: watch::Receiver<T>,
        cameras: impl Fn(&T) -> Option<&[CameraConfig]>,
        source: &str,
        shutdown: &Shutdown,
    ) -> bool {
        loop {
            tokio::select! {
                _ = shutdown.wait() => return true,
                changed = rx.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                    let update = rx.borrow_and_update();
                    if let Some(list) = cameras(&update) {
                        self.replace(list);
                        tracing::info!(cameras = list.len(), source, "dispatcher's camera inventory replaced");
                    }
                }
            }
        }
    }

    /// One camera's configuration (for routing an alert).
    pub fn camera(&self, id: &CameraId) -> Option<CameraConfig> {
        self.snapshot().entry(id).map(|e| e.config.clone())
    }
}
