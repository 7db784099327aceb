//! Routing: which desk gets an alert, and which desks get a copy.
//!
//! An alert is routed by walking the route tree of `[dispatcher.route]` (Alertmanager-style:
//! matchers on event type, severity, camera tags, tier and area; first match wins; `continue`
//! makes a copy; see `deploy/ROUTING.md`). Receivers are desk ids or `"jurisdiction"`, "the
//! camera's own desk", resolved in this order:
//!
//! 1. the camera's explicit `desk` in the inventory (override);
//! 2. the desk of the station polygon the camera lies in ([`JurisdictionIndex`]);
//! 3. the district command centre (camera outside every station polygon).
//!
//! Design decisions:
//! - **Pure and synchronous.** [`Router::route`] does no I/O, allocates a few small strings and
//!   takes microseconds, so the consumer calls it inline; tests call it directly.
//! - **An unknown camera is not an error.** An alert from a camera missing from this
//!   dispatcher's inventory (e.g. during a rollout where analyzer and dispatcher disagree) is
//!   still routed: category routes that do not look at the camera apply as usual, and
//!   `"jurisdiction"` resolves to the centre, which must see it. It is counted, and logged
//!   once per camera id, so the inventory gap is visible without flooding the log.
//! - **The decision explains itself.** [`RouteDecision`] carries the reason, the station and
//!   grid found, and the names of every route that matched, so the desk can show why an
//!   incident landed there and the store can keep it as the routing trail.
//! - `route_hint` on the alert is ignored here: what operator tooling may force is a policy
//!   question for the consumer, not for the geography.

mod index;
mod metrics;
mod tree;

pub use index::{JurisdictionIndex, Location};
pub use metrics::{
    ROUTE_COPIES_TOTAL, ROUTE_MATCHES_TOTAL, ROUTED_TOTAL, UNKNOWN_CAMERA_TOTAL, describe_metrics,
};

use serde::Serialize;
use std::collections::HashSet;
use std::sync::Mutex;
use tree::{Facts, Hit, Node};
use xueliang_core::config::{
    Area, CameraConfig, ConfigError, ConfigErrors, Jurisdictions, NodeConfig, Receiver,
};
use xueliang_core::contract::{AlertV1, EventType, GeoPoint, Severity};
use xueliang_core::{CameraId, DeskId};

/// Why the primary desk was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteReason {
    /// `"jurisdiction"` → the camera's `desk` in the inventory.
    Override,
    /// `"jurisdiction"` → the desk of the station polygon holding the camera.
    Polygon,
    /// A route with a fixed desk as receiver (a category route such as camera faults →
    /// maintenance queue, or the root when its receiver is a desk).
    CategoryRoute { route: String },
    /// Fallback to the centre: the camera is not in the inventory.
    UnknownCamera,
    /// Fallback to the centre: the camera lies outside every station polygon.
    OutsideAll,
}

impl RouteReason {
    /// Metric label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteReason::Override => "override",
            RouteReason::Polygon => "polygon",
            RouteReason::CategoryRoute { .. } => "category_route",
            RouteReason::UnknownCamera => "unknown_camera",
            RouteReason::OutsideAll => "outside_all",
        }
    }

    /// The alert went to the district centre because nothing more specific applied.
    pub fn is_fallback(&self) -> bool {
        matches!(self, RouteReason::UnknownCamera | RouteReason::OutsideAll)
    }
}

/// Where one alert goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteDecision {
    /// The desk that owns the incident.
    pub primary: DeskId,
    pub reason: RouteReason,
    /// Desks that get a copy (from `continue = true` routes), in tree order, without
    /// duplicates and without `primary`.
    pub copies: Vec<DeskId>,
    /// Id of the station area holding the camera (even when an override or a category route
    /// chose the desk); `None` for unknown cameras and cameras outside every station.
    pub jurisdiction: Option<String>,
    /// Grid id: the camera's `grid` from the inventory, else the grid polygon holding it.
    pub grid: Option<String>,
    /// Names of the routes that matched, in walk order (the root is not listed).
    pub matched_routes: Vec<String>,
}

/// Upper bound on remembered unknown camera ids (for warn-once logging).
const MAX_WARNED: usize = 10_000;

/// Routes alerts to desks. Build once per configuration; `route` takes `&self` and the router
/// is `Send + Sync`.
#[derive(Debug)]
pub struct Router {
    tree: Node,
    index: JurisdictionIndex,
    centre: DeskId,
    warned_unknown: Mutex<HashSet<CameraId>>,
}

impl Router {
    /// Builds the router from the validated node config (route tree, centre desk) and the
    /// jurisdiction polygons. Fails when a `jurisdiction` matcher names an area id that the
    /// jurisdictions file does not define.
    pub fn new(node: &NodeConfig, jurisdictions: &Jurisdictions) -> Result<Router, ConfigErrors> {
        let tree = &node.dispatcher.route;
        let index = JurisdictionIndex::new(jurisdictions);
        let mut errs = Vec::new();
        for r in tree.iter() {
            for (i, id) in r.matchers.jurisdiction.iter().enumerate() {
                if index.area(id).is_none() {
                    errs.push(
                        ConfigError::new(
                            &node.file,
                            format!("{}.matchers.jurisdiction[{i}]", r.key),
                            format!(
                                "area `{id}` is not defined in {}",
                                jurisdictions.file.display()
                            ),
                        )
                        .hint("use the `id` property of a station or grid feature"),
                    );
                }
            }
        }
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        Ok(Router {
            tree: Node::compile(tree),
            index,
            centre: node.centre().id.clone(),
            warned_unknown: Mutex::new(HashSet::new()),
        })
    }

    /// The spatial index, e.g. to show a camera's station in the UI.
    pub fn index(&self) -> &JurisdictionIndex {
        &self.index
    }

    /// Station and grid holding a point.
    pub fn locate(&self, p: GeoPoint) -> Location<'_> {
        self.index.locate(p)
    }

    /// Routes one alert, and counts it (`xueliang_dispatcher_routed_total` by reason, copies,
    /// route matches, unknown cameras). `camera` is the inventory entry for `alert.camera_id`,
    /// or `None` when the inventory has no such camera.
    pub fn route(&self, alert: &AlertV1, camera: Option<&CameraConfig>) -> RouteDecision {
        debug_assert!(camera.is_none_or(|c| c.id == alert.camera_id));
        let d = self.decide(alert.event_type, alert.severity, camera);
        ::metrics::counter!(ROUTED_TOTAL, "reason" => d.reason.as_str()).increment(1);
        if !d.copies.is_empty() {
            ::metrics::counter!(ROUTE_COPIES_TOTAL).increment(d.copies.len() as u64);
        }
        for name in &d.matched_routes {
            ::metrics::counter!(ROUTE_MATCHES_TOTAL, "route" => name.clone()).increment(1);
        }
        if camera.is_none() {
            self.unknown_camera(&alert.camera_id);
        }
        tracing::debug!(
            alert_id = %alert.alert_id,
            camera = %alert.camera_id,
            event_type = alert.event_type.as_str(),
            desk = %d.primary,
            reason = d.reason.as_str(),
            copies = d.copies.len(),
            "routed"
        );
        d
    }

    /// Where an ordinary event of `camera` (a major zone intrusion) goes: its home desk and
    /// jurisdiction, for the desk API's camera list and map. Counts nothing: no alert was
    /// routed (it once added one phantom routing per camera at every start).
    pub fn home(&self, camera: &CameraConfig) -> RouteDecision {
        self.decide(EventType::ZoneIntrusion, Severity::Major, Some(camera))
    }

    /// The decision alone, without metrics or logs.
    fn decide(
        &self,
        event: EventType,
        severity: Severity,
        camera: Option<&CameraConfig>,
    ) -> RouteDecision {
        let loc = camera
            .map(|c| self.index.locate(c.location))
            .unwrap_or_default();
        let grid = camera
            .and_then(|c| c.grid.as_deref())
            .or(loc.grid.map(|g| g.id.as_str()));
        let facts = Facts {
            event,
            severity,
            camera,
            station: loc.station.map(|s| s.id.as_str()),
            grid,
        };
        let mut copies = Vec::new();
        let mut trail = Vec::new();
        let primary = self.tree.walk(&facts, &mut copies, &mut trail);
        let (primary_desk, reason) = self.resolve(primary, camera, loc.station);

        let mut copy_desks: Vec<DeskId> = Vec::with_capacity(copies.len());
        for hit in &copies {
            let (desk, _) = self.resolve(*hit, camera, loc.station);
            if desk != primary_desk && !copy_desks.contains(&desk) {
                copy_desks.push(desk);
            }
        }
        RouteDecision {
            primary: primary_desk,
            reason,
            copies: copy_desks,
            jurisdiction: loc.station.map(|s| s.id.clone()),
            grid: grid.map(str::to_owned),
            matched_routes: trail.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn resolve(
        &self,
        hit: Hit<'_>,
        camera: Option<&CameraConfig>,
        station: Option<&Area>,
    ) -> (DeskId, RouteReason) {
        match hit.receiver {
            Receiver::Desk(d) => (
                d.clone(),
                RouteReason::CategoryRoute {
                    route: hit.route.to_string(),
                },
            ),
            Receiver::Jurisdiction => match (camera, station) {
                (None, _) => (self.centre.clone(), RouteReason::UnknownCamera),
                (
                    Some(CameraConfig {
                        desk_override: Some(d),
                        ..
                    }),
                    _,
                ) => (d.clone(), RouteReason::Override),
                (Some(_), Some(s)) => (s.desk_id.clone(), RouteReason::Polygon),
                (Some(_), None) => (self.centre.clone(), RouteReason::OutsideAll),
            },
        }
    }

    fn unknown_camera(&self, id: &CameraId) {
        ::metrics::counter!(UNKNOWN_CAMERA_TOTAL).increment(1);
        let mut warned = self
            .warned_unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if warned.len() < MAX_WARNED && warned.insert(id.clone()) {
            tracing::warn!(
                camera = %id,
                "alert from a camera that is not in this dispatcher's inventory; \
                 routing it to the district centre (add the camera to cameras.toml)"
            );
        }
    }
}
