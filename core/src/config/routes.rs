//! The dispatcher's route tree (`[dispatcher.route]` in `xueliang.toml`): which desk gets an
//! alert, and which desks get a copy.
//!
//! Design decisions:
//! - **Alertmanager's shape, one deliberate difference.** A tree of routes, each with matchers
//!   (all must hold), a receiver, `continue` and child routes; children are tried in order and
//!   the first match takes the alert; an alert no child takes goes to the node's own receiver.
//!   Unlike Alertmanager, a `continue = true` route never *takes* the alert: its receiver gets a
//!   **copy** and matching goes on as if it had not matched, so "crowd gathering: copy the
//!   centre" needs one route, not a copy route plus a duplicate catch-all.
//! - **`"jurisdiction"` is a receiver**, not a desk: it means "the camera's own desk" (per-camera
//!   `desk` override, else the station polygon the camera lies in, else the district centre).
//!   It is the root's default, so an empty `[dispatcher.route]` routes purely by geography.
//! - **Matchers are closed vocabularies, checked here.** Event types, severities and tiers are
//!   parsed into enums so a typo is a config error naming the key path
//!   (`dispatcher.route.routes[1].matchers.event_type[0]`), not a route that silently never
//!   matches. An empty list is rejected for the same reason. Area ids (`jurisdiction`) live in
//!   another file and are checked when the dispatcher builds its router.
//! - Matching itself lives in the dispatcher (`xueliang_dispatcher::routing`); this module only
//!   holds the checked data.

use super::error::Errors;
use crate::DeskId;
use crate::contract::{DeskV1, EventType, OwnerTier, Severity};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;

/// The receiver name that means "the camera's own desk".
pub const JURISDICTION_RECEIVER: &str = "jurisdiction";

/// One node of the route tree as written in TOML. The root is `[dispatcher.route]`; children
/// are `[[dispatcher.route.routes]]`, grandchildren `[[dispatcher.route.routes.routes]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteRaw {
    /// Label used in logs, metrics and the incident's routing trail; defaults to the key path
    /// (`routes[1].routes[0]`). Must be unique.
    name: Option<String>,
    /// Conditions that must all hold for this route to match; none = matches everything.
    #[serde(default)]
    matchers: MatchersRaw,
    /// A desk id, or "jurisdiction". Omitted: inherited from the parent (the root's default
    /// is "jurisdiction").
    receiver: Option<String>,
    /// true: the receiver gets a copy and matching goes on with the next sibling.
    #[serde(default, rename = "continue")]
    continue_: bool,
    /// Child routes, tried in order before this route's own receiver.
    #[serde(default)]
    routes: Vec<RouteRaw>,
}

/// `matchers = { … }` as written. Every key holds a string or a list of strings (any of them
/// matches), except `camera_fault`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchersRaw {
    /// Event types by wire name, e.g. "crowd_gathering".
    event_type: Option<StringList>,
    /// true: only camera-health events (video_loss, frozen_picture, lens_covered);
    /// false: only detections.
    camera_fault: Option<bool>,
    /// "major", or a comparison: ">=major", ">minor", "<=minor", "<critical", "!=info".
    severity: Option<StringList>,
    /// Inventory tags; the camera must carry at least one of them.
    camera_tag: Option<StringList>,
    /// Owner tiers: "police", "district", "town", "village", "enterprise".
    tier: Option<StringList>,
    /// Area ids from jurisdictions.geojson (station or grid) the camera lies in.
    jurisdiction: Option<StringList>,
}

impl MatchersRaw {
    fn is_empty(&self) -> bool {
        self.event_type.is_none()
            && self.camera_fault.is_none()
            && self.severity.is_none()
            && self.camera_tag.is_none()
            && self.tier.is_none()
            && self.jurisdiction.is_none()
    }
}

/// A string or a list of strings, so that `camera_tag = "school"` and
/// `camera_tag = ["school", "hospital"]` both read naturally.
#[derive(Debug, Default)]
struct StringList(Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_owned()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StringList, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(StringList(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Where a route sends an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receiver {
    /// The camera's own desk: its `desk` override, else the station polygon it lies in, else
    /// the district centre.
    Jurisdiction,
    /// A fixed desk (validated to exist).
    Desk(DeskId),
}

impl fmt::Display for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Receiver::Jurisdiction => f.write_str(JURISDICTION_RECEIVER),
            Receiver::Desk(d) => write!(f, "{d}"),
        }
    }
}

/// Comparison in a severity matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeverityOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One severity matcher item, e.g. `>=major`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityMatcher {
    pub op: SeverityOp,
    pub severity: Severity,
}

impl SeverityMatcher {
    /// Parses "major", "=major", "!=info", "<minor", "<=minor", ">minor", ">=major".
    pub fn parse(s: &str) -> Option<SeverityMatcher> {
        let s = s.trim();
        // Two-character operators first so that ">=" is not read as ">" followed by "=major".
        let (op, rest) = [
            (">=", SeverityOp::Ge),
            ("<=", SeverityOp::Le),
            ("!=", SeverityOp::Ne),
            (">", SeverityOp::Gt),
            ("<", SeverityOp::Lt),
            ("=", SeverityOp::Eq),
        ]
        .into_iter()
        .find_map(|(p, op)| s.strip_prefix(p).map(|rest| (op, rest)))
        .unwrap_or((SeverityOp::Eq, s));
        let severity = parse_severity(rest.trim())?;
        Some(SeverityMatcher { op, severity })
    }

    pub fn matches(&self, s: Severity) -> bool {
        match self.op {
            SeverityOp::Eq => s == self.severity,
            SeverityOp::Ne => s != self.severity,
            SeverityOp::Lt => s < self.severity,
            SeverityOp::Le => s <= self.severity,
            SeverityOp::Gt => s > self.severity,
            SeverityOp::Ge => s >= self.severity,
        }
    }
}

/// A route's conditions, validated. An empty `Vec` means "not constrained"; all set conditions
/// must hold, and within one list any item may match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matchers {
    pub event_type: Vec<EventType>,
    /// `Some(true)`: camera-health events only ([`EventType::is_camera_fault`]).
    pub camera_fault: Option<bool>,
    pub severity: Vec<SeverityMatcher>,
    pub camera_tag: Vec<String>,
    pub tier: Vec<OwnerTier>,
    /// Area ids (station or grid) from jurisdictions.geojson.
    pub jurisdiction: Vec<String>,
}

impl Matchers {
    pub fn is_empty(&self) -> bool {
        *self == Matchers::default()
    }
}

/// One validated route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The configured `name`, or the key path below `dispatcher.route` (`routes[1].routes[0]`);
    /// "root" for the root. Unique within the tree.
    pub name: String,
    /// Full key path in xueliang.toml (`dispatcher.route.routes[1]`), for error messages.
    pub key: String,
    pub matchers: Matchers,
    /// Resolved: a route without `receiver` has its parent's here.
    pub receiver: Receiver,
    /// `continue = true`: the receiver gets a copy and matching goes on with the next sibling.
    pub continue_matching: bool,
    pub routes: Vec<Route>,
}

/// `[dispatcher.route]`, validated. The root matches every alert.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTree {
    pub root: Route,
}

impl Default for RouteTree {
    /// Geography only: override → station polygon → district centre.
    fn default() -> Self {
        RouteTree {
            root: Route {
                name: "root".into(),
                key: ROOT_KEY.into(),
                matchers: Matchers::default(),
                receiver: Receiver::Jurisdiction,
                continue_matching: false,
                routes: Vec::new(),
            },
        }
    }
}

impl RouteTree {
    /// Every route, depth first in config order (the root first).
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        let mut stack = vec![&self.root];
        std::iter::from_fn(move || {
            let r = stack.pop()?;
            stack.extend(r.routes.iter().rev());
            Some(r)
        })
    }
}

const ROOT_KEY: &str = "dispatcher.route";

/// Validates `[dispatcher.route]` against the desks defined in the same file, pushing every
/// problem onto `e`. Returns a usable tree even when there were errors (the caller discards it).
pub(crate) fn validate_route_tree(
    raw: &RouteRaw,
    desks: &[DeskV1],
    e: &mut Errors<'_>,
) -> RouteTree {
    for (i, d) in desks.iter().enumerate() {
        if d.id.as_str() == JURISDICTION_RECEIVER {
            e.push(
                format!("desk[{i}].id"),
                format!("desk id `{JURISDICTION_RECEIVER}` is reserved"),
                "routes use receiver = \"jurisdiction\" for \"the camera's own desk\"; rename this desk",
            );
        }
    }
    if !raw.matchers.is_empty() {
        e.push(
            format!("{ROOT_KEY}.matchers"),
            "the root route must match every alert",
            "move these matchers into a [[dispatcher.route.routes]] entry",
        );
    }
    if raw.continue_ {
        e.push(
            format!("{ROOT_KEY}.continue"),
            "the root route has no siblings to continue to",
            "remove `continue` from [dispatcher.route]",
        );
    }
    let mut v = Validator {
        desks,
        e,
        names: HashSet::new(),
    };
    let receiver = raw
        .receiver
        .as_deref()
        .map(|r| v.receiver(&format!("{ROOT_KEY}.receiver"), r))
        .unwrap_or(Receiver::Jurisdiction);
    let name = raw.name.clone().unwrap_or_else(|| "root".into());
    v.name(ROOT_KEY, &name);
    let routes = v.children(raw, "", ROOT_KEY, &receiver);
    RouteTree {
        root: Route {
            name,
            key: ROOT_KEY.into(),
            matchers: Matchers::default(),
            receiver,
            continue_matching: false,
            routes,
        },
    }
}

struct Validator<'a, 'e, 'f> {
    desks: &'a [DeskV1],
    e: &'e mut Errors<'f>,
    names: HashSet<String>,
}

impl Validator<'_, '_, '_> {
    fn children(
        &mut self,
        raw: &RouteRaw,
        rel: &str,
        key: &str,
        inherited: &Receiver,
    ) -> Vec<Route> {
        raw.routes
            .iter()
            .enumerate()
            .map(|(i, child)| {
                let rel = if rel.is_empty() {
                    format!("routes[{i}]")
                } else {
                    format!("{rel}.routes[{i}]")
                };
                self.route(child, rel, format!("{key}.routes[{i}]"), inherited)
            })
            .collect()
    }

    fn route(&mut self, raw: &RouteRaw, rel: String, key: String, inherited: &Receiver) -> Route {
        let receiver = match raw.receiver.as_deref() {
            Some(r) => self.receiver(&format!("{key}.receiver"), r),
            None => inherited.clone(),
        };
        let name = raw.name.clone().unwrap_or_else(|| rel.clone());
        self.name(&key, &name);
        let matchers = self.matchers(&raw.matchers, &format!("{key}.matchers"));
        let routes = self.children(raw, &rel, &key, &receiver);
        Route {
            name,
            key,
            matchers,
            receiver,
            continue_matching: raw.continue_,
            routes,
        }
    }

    fn name(&mut self, key: &str, name: &str) {
        if name.trim().is_empty() || name.len() > 64 {
            self.e.push(
                format!("{key}.name"),
                format!("route name {name:?} must be 1-64 characters"),
                "",
            );
        } else if !self.names.insert(name.to_string()) {
            self.e.push(
                format!("{key}.name"),
                format!("route name `{name}` is used twice"),
                "route names label metrics and the routing trail, so they must be unique",
            );
        }
    }

    fn receiver(&mut self, key: &str, r: &str) -> Receiver {
        if r == JURISDICTION_RECEIVER {
            return Receiver::Jurisdiction;
        }
        match DeskId::new(r) {
            Ok(id) if self.desks.iter().any(|d| d.id == id) => Receiver::Desk(id),
            Ok(id) => {
                let known: Vec<&str> = self.desks.iter().map(|d| d.id.as_str()).collect();
                self.e.push(
                    key,
                    format!("receiver `{id}` is not a defined desk"),
                    &format!(
                        "use \"jurisdiction\" or one of the [[desk]] ids: {}",
                        known.join(", ")
                    ),
                );
                Receiver::Jurisdiction
            }
            Err(err) => {
                self.e.push(key, format!("receiver {r:?} {err}"), "");
                Receiver::Jurisdiction
            }
        }
    }

    /// Checks one list-valued matcher key, turning each item into `T` with `parse`.
    fn list<T>(
        &mut self,
        key: &str,
        list: &Option<StringList>,
        what: &str,
        allowed: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Vec<T> {
        let Some(StringList(items)) = list else {
            return Vec::new();
        };
        if items.is_empty() {
            self.e.push(
                key,
                "is an empty list, which would match nothing",
                "remove the key to match any value",
            );
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let v = parse(s);
                if v.is_none() {
                    self.e.push(
                        format!("{key}[{i}]"),
                        format!("{s:?} is not a known {what}"),
                        &format!("use one of: {allowed}"),
                    );
                }
                v
            })
            .collect()
    }

    fn matchers(&mut self, m: &MatchersRaw, key: &str) -> Matchers {
        let event_names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        let event_type = self.list(
            &format!("{key}.event_type"),
            &m.event_type,
            "event type",
            &event_names.join(", "),
            |s| EventType::ALL.into_iter().find(|t| t.as_str() == s),
        );
        let severity = self.list(
            &format!("{key}.severity"),
            &m.severity,
            "severity matcher",
            "info, minor, major, critical, optionally after =, !=, <, <=, > or >= (e.g. \">=major\")",
            SeverityMatcher::parse,
        );
        let tier = self.list(
            &format!("{key}.tier"),
            &m.tier,
            "owner tier",
            "police, district, town, village, enterprise",
            parse_tier,
        );
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
        let camera_tag = self.list(
            &format!("{key}.camera_tag"),
            &m.camera_tag,
            "tag (tags are non-empty strings)",
            "the tags used in cameras.toml",
            non_empty,
        );
        let jurisdiction = self.list(
            &format!("{key}.jurisdiction"),
            &m.jurisdiction,
            "area id (ids are non-empty strings)",
            "the `id` properties in jurisdictions.geojson",
            non_empty,
        );
        Matchers {
            event_type,
            camera_fault: m.camera_fault,
            severity,
            camera_tag,
            tier,
            jurisdiction,
        }
    }
}

fn parse_severity(s: &str) -> Option<Severity> {
    [
        Severity::Info,
        Severity::Minor,
        Severity::Major,
        Severity::Critical,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

fn parse_tier(s: &str) -> Option<OwnerTier> {
    [
        OwnerTier::Police,
        OwnerTier::District,
        OwnerTier::Town,
        OwnerTier::Village,
        OwnerTier::Enterprise,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_matchers_parse_and_compare() {
        let ge = SeverityMatcher::parse(">=major").unwrap();
        assert_eq!(ge.op, SeverityOp::Ge);
        assert!(ge.matches(Severity::Critical) && ge.matches(Severity::Major));
        assert!(!ge.matches(Severity::Minor));
        let eq = SeverityMatcher::parse("minor").unwrap();
        assert!(eq.matches(Severity::Minor) && !eq.matches(Severity::Major));
        assert!(
            SeverityMatcher::parse("!=info")
                .unwrap()
                .matches(Severity::Minor)
        );
        assert!(
            !SeverityMatcher::parse("<minor")
                .unwrap()
                .matches(Severity::Minor)
        );
        assert!(SeverityMatcher::parse(">= high").is_none());
        assert!(SeverityMatcher::parse("=>major").is_none());
    }
}
