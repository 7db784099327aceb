//! The route tree, compiled for matching, and the walk that turns an alert into one primary
//! receiver plus copies.
//!
//! Design decisions:
//! - **Compiled once.** Event types, severities and tiers become bitmasks when the router is
//!   built (a severity comparison such as `>=major` is evaluated for all four severities up
//!   front), so matching an alert is a handful of AND operations and short string compares
//!   for tags and area ids.
//! - **Walk (see `core::config::routes` for the config side):** children are tried in order;
//!   a matching child with `continue = false` takes the alert and the walk returns whatever
//!   its own subtree decided; a matching child with `continue = true` contributes its subtree's
//!   result as copies and the walk goes on; when no child takes the alert, the node's own
//!   receiver is the primary. Receivers are resolved to desks afterwards by the router,
//!   because `"jurisdiction"` needs the camera.

use std::sync::Arc;
use xueliang_core::config::{CameraConfig, Matchers, Receiver, Route, RouteTree};
use xueliang_core::contract::{EventType, OwnerTier, Severity};

const SEVERITIES: [Severity; 4] = [
    Severity::Info,
    Severity::Minor,
    Severity::Major,
    Severity::Critical,
];

const TIERS: [OwnerTier; 5] = [
    OwnerTier::Police,
    OwnerTier::District,
    OwnerTier::Town,
    OwnerTier::Village,
    OwnerTier::Enterprise,
];

fn bit<T: PartialEq>(all: &[T], v: &T) -> u32 {
    all.iter().position(|x| x == v).map_or(0, |i| 1 << i)
}

/// What the matchers look at, gathered once per alert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub event: EventType,
    pub severity: Severity,
    /// `None` for a camera missing from the inventory: tag and tier matchers then never match.
    pub camera: Option<&'a CameraConfig>,
    /// Station and grid area ids the camera lies in.
    pub station: Option<&'a str>,
    pub grid: Option<&'a str>,
}

/// A route's matchers as bitmasks; `None` = not constrained.
#[derive(Debug)]
struct Compiled {
    events: Option<u32>,
    camera_fault: Option<bool>,
    severities: Option<u32>,
    tiers: Option<u32>,
    tags: Option<Vec<String>>,
    areas: Option<Vec<String>>,
}

impl Compiled {
    fn new(m: &Matchers) -> Compiled {
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        Compiled {
            events: (!m.event_type.is_empty()).then(|| {
                m.event_type
                    .iter()
                    .fold(0, |a, e| a | bit(&EventType::ALL, e))
            }),
            camera_fault: m.camera_fault,
            severities: (!m.severity.is_empty()).then(|| {
                SEVERITIES
                    .iter()
                    .filter(|s| m.severity.iter().any(|sm| sm.matches(**s)))
                    .fold(0, |a, s| a | bit(&SEVERITIES, s))
            }),
            tiers: (!m.tier.is_empty()).then(|| m.tier.iter().fold(0, |a, t| a | bit(&TIERS, t))),
            tags: nonempty(&m.camera_tag),
            areas: nonempty(&m.jurisdiction),
        }
    }

    fn matches(&self, f: &Facts<'_>) -> bool {
        if let Some(mask) = self.events
            && mask & bit(&EventType::ALL, &f.event) == 0
        {
            return false;
        }
        if let Some(want) = self.camera_fault
            && f.event.is_camera_fault() != want
        {
            return false;
        }
        if let Some(mask) = self.severities
            && mask & bit(&SEVERITIES, &f.severity) == 0
        {
            return false;
        }
        if let Some(mask) = self.tiers
            && f.camera.is_none_or(|c| mask & bit(&TIERS, &c.tier) == 0)
        {
            return false;
        }
        if let Some(tags) = &self.tags
            && f.camera
                .is_none_or(|c| !c.tags.iter().any(|t| tags.contains(t)))
        {
            return false;
        }
        if let Some(areas) = &self.areas
            && ![f.station, f.grid]
                .into_iter()
                .flatten()
                .any(|a| areas.iter().any(|x| x == a))
        {
            return false;
        }
        true
    }
}

/// One route, ready for matching.
#[derive(Debug)]
pub(crate) struct Node {
    pub name: Arc<str>,
    pub receiver: Receiver,
    continue_matching: bool,
    matchers: Compiled,
    children: Vec<Node>,
}

/// A receiver chosen by the walk, with the route that chose it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit<'t> {
    pub receiver: &'t Receiver,
    pub route: &'t Arc<str>,
}

impl Node {
    pub fn compile(tree: &RouteTree) -> Node {
        Node::from_route(&tree.root)
    }

    fn from_route(r: &Route) -> Node {
        Node {
            name: r.name.as_str().into(),
            receiver: r.receiver.clone(),
            continue_matching: r.continue_matching,
            matchers: Compiled::new(&r.matchers),
            children: r.routes.iter().map(Node::from_route).collect(),
        }
    }

    /// Walks this node's children for an alert this node already matched. Returns the primary;
    /// pushes copies onto `copies` and every matched route's name onto `trail`.
    pub fn walk<'t>(
        &'t self,
        f: &Facts<'_>,
        copies: &mut Vec<Hit<'t>>,
        trail: &mut Vec<Arc<str>>,
    ) -> Hit<'t> {
        for child in &self.children {
            if !child.matchers.matches(f) {
                continue;
            }
            trail.push(child.name.clone());
            let hit = child.walk(f, copies, trail);
            if child.continue_matching {
                copies.push(hit);
            } else {
                return hit;
            }
        }
        Hit {
            receiver: &self.receiver,
            route: &self.name,
        }
    }
}
