//! Routing: every alert to the right desk.
//!
//! The fixture is a small hand-made district (lon/lat near Shenzhen):
//!
//! ```text
//!  lat 22.55 ┌──────────── futian ───────────┬─────────── lianhua ───────────┐    shekou (MultiPolygon):
//!            │                               │                               │    two parts sharing the
//!            │          ┌─enclave─┐          │          ┌─(lake)─┐           │    edge lon 114.25, and an
//!            │          │ (hole)  │          │          │ hole,  │           │    island at 114.30-114.32
//!            │          └─────────┘          │          │ no one │           │
//!            ├─grid-001─┐                    │          └────────┘           │
//!  lat 22.50 └──────────┴────────────────────┴───────────────────────────────┘
//!        lon 114.00   114.02  114.03      114.05       114.07  114.08      114.11
//! ```
//!
//! futian has a hole filled by the enclave station; lianhua has a hole nobody owns (a lake);
//! futian and lianhua share the edge lon = 114.05 (futian is the smaller, so it wins there).

use chrono::Utc;
use std::path::Path;
use xueliang_core::CameraId;
use xueliang_core::config::{ConfigErrors, Inventory, Jurisdictions, NodeConfig};
use xueliang_core::contract::{AlertV1, EventType, Severity};
use xueliang_dispatcher::routing::{RouteDecision, RouteReason, Router};

const JURISDICTIONS: &str = r#"{
  "type": "FeatureCollection",
  "features": [
    {"type": "Feature",
     "properties": {"id": "futian", "name": "福田派出所", "desk_id": "futian-desk"},
     "geometry": {"type": "Polygon", "coordinates": [
        [[114.00, 22.50], [114.05, 22.50], [114.05, 22.55], [114.00, 22.55], [114.00, 22.50]],
        [[114.02, 22.52], [114.03, 22.52], [114.03, 22.53], [114.02, 22.53], [114.02, 22.52]]
     ]}},
    {"type": "Feature",
     "properties": {"id": "lianhua", "name": "莲花派出所", "desk_id": "lianhua-desk"},
     "geometry": {"type": "Polygon", "coordinates": [
        [[114.05, 22.50], [114.11, 22.50], [114.11, 22.55], [114.05, 22.55], [114.05, 22.50]],
        [[114.07, 22.52], [114.08, 22.52], [114.08, 22.53], [114.07, 22.53], [114.07, 22.52]]
     ]}},
    {"type": "Feature",
     "properties": {"id": "enclave", "name": "飞地派出所", "desk_id": "enclave-desk", "kind": "station"},
     "geometry": {"type": "Polygon", "coordinates": [
        [[114.02, 22.52], [114.03, 22.52], [114.03, 22.53], [114.02, 22.53], [114.02, 22.52]]
     ]}},
    {"type": "Feature",
     "properties": {"id": "shekou", "name": "蛇口派出所", "desk_id": "shekou-desk"},
     "geometry": {"type": "MultiPolygon", "coordinates": [
        [[[114.20, 22.50], [114.25, 22.50], [114.25, 22.55], [114.20, 22.55], [114.20, 22.50]]],
        [[[114.25, 22.50], [114.27, 22.50], [114.27, 22.55], [114.25, 22.55], [114.25, 22.50]]],
        [[[114.30, 22.40], [114.32, 22.40], [114.32, 22.42], [114.30, 22.42], [114.30, 22.40]]]
     ]}},
    {"type": "Feature",
     "properties": {"id": "grid-001", "name": "福田一网格", "desk_id": "futian-desk", "kind": "grid"},
     "geometry": {"type": "Polygon", "coordinates": [
        [[114.00, 22.50], [114.02, 22.50], [114.02, 22.52], [114.00, 22.52], [114.00, 22.50]]
     ]}}
  ]
}"#;

const NODE: &str = r#"
[inventory]
cameras = "cameras.toml"
jurisdictions = "jurisdictions.geojson"

[[desk]]
id = "district-centre"
name = "区指挥中心"
kind = "centre"

[[desk]]
id = "futian-desk"
name = "福田派出所三中心合一"
kind = "station"

[[desk]]
id = "lianhua-desk"
name = "莲花派出所三中心合一"
kind = "station"

[[desk]]
id = "enclave-desk"
name = "飞地派出所"
kind = "station"

[[desk]]
id = "shekou-desk"
name = "蛇口派出所"
kind = "station"

[[desk]]
id = "video-maint"
name = "视频监控运维"
kind = "queue"

[[desk]]
id = "school-liaison"
name = "校园安全"
kind = "queue"

[[desk]]
id = "enterprise-queue"
name = "社会资源"
kind = "queue"

[[desk]]
id = "port-traffic"
name = "港区交通"
kind = "queue"
"#;

/// The example tree from deploy/ROUTING.md, in small.
const ROUTES: &str = r#"
[dispatcher.route]
receiver = "jurisdiction"

[[dispatcher.route.routes]]
name = "camera-faults"
matchers = { camera_fault = true }
receiver = "video-maint"

[[dispatcher.route.routes]]
name = "crowd-copy-centre"
matchers = { event_type = "crowd_gathering" }
receiver = "district-centre"
continue = true

[[dispatcher.route.routes]]
name = "schools"
matchers = { camera_tag = ["school", "kindergarten"] }

[[dispatcher.route.routes.routes]]
name = "schools-serious"
matchers = { severity = ">=major" }
receiver = "school-liaison"
continue = true

[[dispatcher.route.routes]]
name = "enterprise-minor"
matchers = { tier = "enterprise", severity = ["info", "minor"] }
receiver = "enterprise-queue"

[[dispatcher.route.routes]]
name = "port-parking"
matchers = { jurisdiction = "shekou", event_type = "stationary_vehicle" }
receiver = "port-traffic"
"#;

const CAMERAS: &str = r#"
[[camera]]
id = "cam-futian"
name = "福田 inside"
url = "rtsp://10.0.0.1/s"
location = { lat = 22.54, lon = 114.01 }
tier = "police"

[[camera]]
id = "cam-grid"
name = "福田 in grid-001"
url = "rtsp://10.0.0.2/s"
location = { lat = 22.51, lon = 114.01 }
tier = "police"

[[camera]]
id = "cam-enclave"
name = "inside futian's hole"
url = "rtsp://10.0.0.3/s"
location = { lat = 22.525, lon = 114.025 }
tier = "police"

[[camera]]
id = "cam-lake"
name = "inside lianhua's unowned hole"
url = "rtsp://10.0.0.4/s"
location = { lat = 22.525, lon = 114.075 }
tier = "police"

[[camera]]
id = "cam-outside"
name = "west of everything"
url = "rtsp://10.0.0.5/s"
location = { lat = 22.50, lon = 113.90 }
tier = "district"

[[camera]]
id = "cam-border"
name = "on the futian/lianhua border"
url = "rtsp://10.0.0.6/s"
location = { lat = 22.52, lon = 114.05 }
tier = "police"

[[camera]]
id = "cam-corner"
name = "on the shared corner of futian and lianhua"
url = "rtsp://10.0.0.7/s"
location = { lat = 22.55, lon = 114.05 }
tier = "police"

[[camera]]
id = "cam-hole-edge"
name = "on the ring of futian's hole"
url = "rtsp://10.0.0.8/s"
location = { lat = 22.525, lon = 114.02 }
tier = "police"

[[camera]]
id = "cam-island"
name = "shekou's island"
url = "rtsp://10.0.0.9/s"
location = { lat = 22.41, lon = 114.31 }
tier = "police"

[[camera]]
id = "cam-seam"
name = "on the edge between shekou's two mainland parts"
url = "rtsp://10.0.0.10/s"
location = { lat = 22.52, lon = 114.25 }
tier = "police"

[[camera]]
id = "cam-override"
name = "in futian, owned by lianhua"
url = "rtsp://10.0.0.11/s"
location = { lat = 22.54, lon = 114.01 }
tier = "police"
desk = "lianhua-desk"

[[camera]]
id = "cam-school"
name = "lianhua primary school gate"
url = "rtsp://10.0.0.12/s"
location = { lat = 22.51, lon = 114.06 }
tier = "village"
tags = ["school", "gate"]

[[camera]]
id = "cam-shop"
name = "shop front in lianhua"
url = "rtsp://10.0.0.13/s"
location = { lat = 22.54, lon = 114.10 }
tier = "enterprise"
grid = "lianhua-grid-7"

[[camera]]
id = "cam-shekou"
name = "shekou port road"
url = "rtsp://10.0.0.14/s"
location = { lat = 22.52, lon = 114.22 }
tier = "police"
"#;

fn node(routes: &str) -> Result<NodeConfig, ConfigErrors> {
    NodeConfig::parse(
        &format!("{NODE}\n{routes}"),
        Path::new("/etc/xueliang/xueliang.toml"),
    )
}

fn jurisdictions(text: &str) -> Jurisdictions {
    Jurisdictions::parse(text, Path::new("/etc/xueliang/jurisdictions.geojson")).unwrap()
}

fn router(routes: &str) -> Router {
    Router::new(&node(routes).unwrap(), &jurisdictions(JURISDICTIONS)).unwrap()
}

fn inventory() -> Inventory {
    Inventory::parse(CAMERAS, Path::new("/etc/xueliang/cameras.toml"), &|_| None).unwrap()
}

fn route(r: &Router, camera: &str, event: EventType, severity: Severity) -> RouteDecision {
    let inv = inventory();
    let id = CameraId::new(camera).unwrap();
    let alert = AlertV1::new(id.clone(), event, severity, "rule-1", Utc::now());
    r.route(&alert, inv.camera(&id))
}

/// Primary desk and copies of a decision, as plain strings.
fn desks(d: &RouteDecision) -> (&str, Vec<&str>) {
    (
        d.primary.as_str(),
        d.copies.iter().map(|c| c.as_str()).collect(),
    )
}

const INTRUSION: EventType = EventType::ZoneIntrusion;

// ---- geography ------------------------------------------------------------------------------

#[test]
fn camera_inside_a_polygon_goes_to_that_station() {
    let d = route(&router(ROUTES), "cam-futian", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("futian-desk", vec![]));
    assert_eq!(d.reason, RouteReason::Polygon);
    assert_eq!(d.jurisdiction.as_deref(), Some("futian"));
    assert_eq!(d.grid, None);
    assert!(d.matched_routes.is_empty(), "{:?}", d.matched_routes);
}

#[test]
fn grid_is_reported_but_the_station_decides() {
    let d = route(&router(ROUTES), "cam-grid", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("futian-desk", vec![]));
    assert_eq!(d.reason, RouteReason::Polygon);
    assert_eq!(d.grid.as_deref(), Some("grid-001"));
    // A grid set in the inventory wins over the grid polygons.
    let d = route(&router(ROUTES), "cam-shop", INTRUSION, Severity::Major);
    assert_eq!(d.grid.as_deref(), Some("lianhua-grid-7"));
}

#[test]
fn camera_inside_a_hole_goes_to_the_enclave_station() {
    let d = route(&router(ROUTES), "cam-enclave", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("enclave-desk", vec![]));
    assert_eq!(d.reason, RouteReason::Polygon);
    assert_eq!(d.jurisdiction.as_deref(), Some("enclave"));
}

#[test]
fn camera_inside_an_unowned_hole_falls_back_to_the_centre() {
    let d = route(&router(ROUTES), "cam-lake", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("district-centre", vec![]));
    assert_eq!(d.reason, RouteReason::OutsideAll);
    assert_eq!(d.jurisdiction, None);
}

#[test]
fn camera_outside_every_polygon_goes_to_the_district_centre() {
    let d = route(&router(ROUTES), "cam-outside", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("district-centre", vec![]));
    assert_eq!(d.reason, RouteReason::OutsideAll);
    assert!(d.reason.is_fallback());
}

#[test]
fn camera_on_a_shared_boundary_goes_to_one_station_deterministically() {
    let r = router(ROUTES);
    for cam in ["cam-border", "cam-corner"] {
        let d = route(&r, cam, INTRUSION, Severity::Major);
        // Both stations touch the point; futian is the smaller one.
        assert_eq!(desks(&d), ("futian-desk", vec![]), "{cam}");
        assert_eq!(d.reason, RouteReason::Polygon, "{cam}");
    }
    // The file order does not matter: reversing the features gives the same answer.
    let mut gj: serde_json::Value = serde_json::from_str(JURISDICTIONS).unwrap();
    gj["features"].as_array_mut().unwrap().reverse();
    let reversed = Router::new(&node(ROUTES).unwrap(), &jurisdictions(&gj.to_string())).unwrap();
    for cam in ["cam-border", "cam-corner"] {
        let d = route(&reversed, cam, INTRUSION, Severity::Major);
        assert_eq!(
            d.primary.as_str(),
            "futian-desk",
            "{cam} with reversed file order"
        );
    }
}

#[test]
fn camera_on_a_hole_ring_goes_to_the_enclave() {
    // On futian's hole ring and the enclave's outer ring: both touch it, the enclave is smaller.
    let d = route(&router(ROUTES), "cam-hole-edge", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("enclave-desk", vec![]));
}

#[test]
fn multipolygon_parts_all_belong_to_their_station() {
    let r = router(ROUTES);
    let d = route(&r, "cam-island", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("shekou-desk", vec![]));
    assert_eq!(d.jurisdiction.as_deref(), Some("shekou"));
}

#[test]
fn point_on_the_seam_between_two_parts_of_one_multipolygon_is_inside_it() {
    // geo's MultiPolygon position applies the OGC mod-2 boundary rule and calls this point
    // outside; the index tests parts one by one so it stays with shekou.
    let d = route(&router(ROUTES), "cam-seam", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("shekou-desk", vec![]));
    assert_eq!(d.reason, RouteReason::Polygon);
}

// ---- overrides and category routes ----------------------------------------------------------

#[test]
fn per_camera_override_beats_the_polygon() {
    let d = route(&router(ROUTES), "cam-override", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("lianhua-desk", vec![]));
    assert_eq!(d.reason, RouteReason::Override);
    // The polygon is still reported, for the desk's map.
    assert_eq!(d.jurisdiction.as_deref(), Some("futian"));
}

#[test]
fn camera_faults_go_to_the_maintenance_queue() {
    let r = router(ROUTES);
    for event in [
        EventType::VideoLoss,
        EventType::FrozenPicture,
        EventType::LensCovered,
    ] {
        // Category routes come before the camera's own desk, override or not.
        for cam in ["cam-futian", "cam-override", "cam-outside"] {
            let d = route(&r, cam, event, Severity::Minor);
            assert_eq!(desks(&d), ("video-maint", vec![]), "{cam} {event:?}");
            assert_eq!(
                d.reason,
                RouteReason::CategoryRoute {
                    route: "camera-faults".into()
                }
            );
            assert_eq!(d.matched_routes, ["camera-faults"]);
        }
    }
}

#[test]
fn crowd_gathering_goes_to_the_station_with_a_copy_to_the_centre() {
    let r = router(ROUTES);
    let d = route(&r, "cam-futian", EventType::CrowdGathering, Severity::Major);
    assert_eq!(desks(&d), ("futian-desk", vec!["district-centre"]));
    assert_eq!(d.reason, RouteReason::Polygon);
    assert_eq!(d.matched_routes, ["crowd-copy-centre"]);
    // Outside every station the primary already is the centre: no copy to itself.
    let d = route(
        &r,
        "cam-outside",
        EventType::CrowdGathering,
        Severity::Major,
    );
    assert_eq!(desks(&d), ("district-centre", vec![]));
    assert_eq!(d.reason, RouteReason::OutsideAll);
}

#[test]
fn nested_routes_with_tag_and_severity_matchers() {
    let r = router(ROUTES);
    // A serious event at a school: the station keeps it (the `schools` route inherits
    // "jurisdiction"), and the school-safety queue gets a copy.
    let d = route(&r, "cam-school", INTRUSION, Severity::Critical);
    assert_eq!(desks(&d), ("lianhua-desk", vec!["school-liaison"]));
    assert_eq!(d.reason, RouteReason::Polygon);
    assert_eq!(d.matched_routes, ["schools", "schools-serious"]);
    let d = route(&r, "cam-school", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("lianhua-desk", vec!["school-liaison"]));
    // Minor: the school route matches, its child does not.
    let d = route(&r, "cam-school", INTRUSION, Severity::Minor);
    assert_eq!(desks(&d), ("lianhua-desk", vec![]));
    assert_eq!(d.matched_routes, ["schools"]);
    // Crowd at a school: copy to the centre (continue), then the school routes.
    let d = route(
        &r,
        "cam-school",
        EventType::CrowdGathering,
        Severity::Critical,
    );
    assert_eq!(
        desks(&d),
        ("lianhua-desk", vec!["district-centre", "school-liaison"])
    );
    // An untagged camera never matches the tag route.
    let d = route(&r, "cam-futian", INTRUSION, Severity::Critical);
    assert_eq!(desks(&d), ("futian-desk", vec![]));
}

#[test]
fn tier_and_severity_matchers_combine() {
    let r = router(ROUTES);
    let d = route(&r, "cam-shop", INTRUSION, Severity::Minor);
    assert_eq!(desks(&d), ("enterprise-queue", vec![]));
    assert_eq!(
        d.reason,
        RouteReason::CategoryRoute {
            route: "enterprise-minor".into()
        }
    );
    // Major at the same enterprise camera: the severity matcher fails, the station gets it.
    let d = route(&r, "cam-shop", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("lianhua-desk", vec![]));
}

#[test]
fn jurisdiction_matcher_selects_by_area() {
    let r = router(ROUTES);
    let d = route(
        &r,
        "cam-shekou",
        EventType::StationaryVehicle,
        Severity::Minor,
    );
    assert_eq!(desks(&d), ("port-traffic", vec![]));
    // Same event elsewhere: not the port route.
    let d = route(
        &r,
        "cam-futian",
        EventType::StationaryVehicle,
        Severity::Minor,
    );
    assert_eq!(desks(&d), ("futian-desk", vec![]));
}

#[test]
fn a_copy_route_does_not_take_the_alert_unlike_alertmanager() {
    // Only `continue = true` routes match: the parent's receiver is still the primary.
    let r = router(
        r#"
[dispatcher.route]
receiver = "district-centre"

[[dispatcher.route.routes]]
matchers = { event_type = "loitering" }
receiver = "jurisdiction"
continue = true
"#,
    );
    let d = route(&r, "cam-futian", EventType::Loitering, Severity::Minor);
    assert_eq!(desks(&d), ("district-centre", vec!["futian-desk"]));
    assert_eq!(
        d.reason,
        RouteReason::CategoryRoute {
            route: "root".into()
        }
    );
    // Unnamed routes are named by their key path.
    assert_eq!(d.matched_routes, ["routes[0]"]);
}

#[test]
fn first_matching_sibling_wins() {
    let r = router(
        r#"
[[dispatcher.route.routes]]
matchers = { severity = "critical" }
receiver = "district-centre"

[[dispatcher.route.routes]]
matchers = { event_type = "zone_intrusion" }
receiver = "school-liaison"
"#,
    );
    let d = route(&r, "cam-futian", INTRUSION, Severity::Critical);
    assert_eq!(desks(&d), ("district-centre", vec![]));
    let d = route(&r, "cam-futian", INTRUSION, Severity::Major);
    assert_eq!(desks(&d), ("school-liaison", vec![]));
}

#[test]
fn without_a_route_section_routing_is_purely_geographic() {
    let r = router("");
    let d = route(&r, "cam-futian", EventType::VideoLoss, Severity::Major);
    assert_eq!(desks(&d), ("futian-desk", vec![]));
    let d = route(
        &r,
        "cam-outside",
        EventType::CrowdGathering,
        Severity::Major,
    );
    assert_eq!(desks(&d), ("district-centre", vec![]));
}

// ---- unknown cameras and metrics ------------------------------------------------------------

#[test]
fn unknown_camera_goes_to_the_centre_and_is_counted() {
    let r = router(ROUTES);
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let (intrusion, fault) = metrics::with_local_recorder(&recorder, || {
        let a = route(&r, "cam-not-in-inventory", INTRUSION, Severity::Critical);
        let b = route(
            &r,
            "cam-not-in-inventory",
            EventType::VideoLoss,
            Severity::Minor,
        );
        let _ = route(&r, "cam-futian", INTRUSION, Severity::Critical);
        (a, b)
    });
    assert_eq!(desks(&intrusion), ("district-centre", vec![]));
    assert_eq!(intrusion.reason, RouteReason::UnknownCamera);
    assert_eq!(intrusion.jurisdiction, None);
    // Category routes that do not need the camera still apply.
    assert_eq!(desks(&fault), ("video-maint", vec![]));

    let text = handle.render();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(line("xueliang_dispatcher_unknown_camera_total"), "2");
    assert_eq!(
        line("xueliang_dispatcher_routed_total{reason=\"unknown_camera\"}"),
        "1"
    );
    assert_eq!(
        line("xueliang_dispatcher_routed_total{reason=\"category_route\"}"),
        "1"
    );
    assert_eq!(
        line("xueliang_dispatcher_routed_total{reason=\"polygon\"}"),
        "1"
    );
    assert_eq!(
        line("xueliang_dispatcher_route_matches_total{route=\"camera-faults\"}"),
        "1"
    );
}

#[test]
fn router_is_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Router>();
}

// ---- configuration errors -------------------------------------------------------------------

/// The errors of a route config that must fail, as (key, message) pairs.
fn errors(routes: &str) -> Vec<(String, String)> {
    let errs = node(routes).expect_err("config should be rejected");
    errs.0.into_iter().map(|e| (e.key, e.message)).collect()
}

fn has_error(errs: &[(String, String)], key: &str, needle: &str) -> bool {
    errs.iter().any(|(k, m)| k == key && m.contains(needle))
}

#[test]
fn unknown_receiver_desk_names_the_key_path() {
    let errs = errors(
        r#"
[[dispatcher.route.routes]]
matchers = { camera_fault = true }
receiver = "video-maint"

[[dispatcher.route.routes]]
matchers = { event_type = "crowd_gathering" }
receiver = "no-such-desk"

[[dispatcher.route.routes.routes]]
receiver = "also-missing"
"#,
    );
    assert!(
        has_error(
            &errs,
            "dispatcher.route.routes[1].receiver",
            "`no-such-desk`"
        ),
        "{errs:?}"
    );
    assert!(
        has_error(
            &errs,
            "dispatcher.route.routes[1].routes[0].receiver",
            "`also-missing`"
        ),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    // The hint lists the desks that do exist.
    let all = node("[[dispatcher.route.routes]]\nreceiver = \"nope\"\n").unwrap_err();
    let hint = all.0[0].hint.as_deref().unwrap();
    assert!(
        hint.contains("video-maint") && hint.contains("jurisdiction"),
        "{hint}"
    );
    assert!(all.to_string().contains("xueliang.toml"), "{all}");
}

#[test]
fn unknown_matcher_values_are_rejected_with_their_index() {
    let errs = errors(
        r#"
[[dispatcher.route.routes]]
matchers = { event_type = ["crowd_gathering", "crowd"], severity = [">=major", "high"], tier = "police" }

[[dispatcher.route.routes]]
matchers = { tier = ["village", "citizen"], camera_tag = [] }
"#,
    );
    assert!(
        has_error(
            &errs,
            "dispatcher.route.routes[0].matchers.event_type[1]",
            "\"crowd\""
        ),
        "{errs:?}"
    );
    assert!(
        has_error(
            &errs,
            "dispatcher.route.routes[0].matchers.severity[1]",
            "\"high\""
        ),
        "{errs:?}"
    );
    assert!(
        has_error(
            &errs,
            "dispatcher.route.routes[1].matchers.tier[1]",
            "\"citizen\""
        ),
        "{errs:?}"
    );
    assert!(
        has_error(
            &errs,
            "dispatcher.route.routes[1].matchers.camera_tag",
            "empty list"
        ),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 4, "{errs:?}");
}

#[test]
fn structural_mistakes_are_rejected() {
    let errs = errors(
        r#"
[dispatcher.route]
matchers = { severity = "critical" }
continue = true

[[dispatcher.route.routes]]
name = "dup"
receiver = "video-maint"

[[dispatcher.route.routes]]
name = "dup"
receiver = "video-maint"
"#,
    );
    assert!(
        has_error(&errs, "dispatcher.route.matchers", "root"),
        "{errs:?}"
    );
    assert!(
        has_error(&errs, "dispatcher.route.continue", "root"),
        "{errs:?}"
    );
    assert!(
        has_error(&errs, "dispatcher.route.routes[1].name", "`dup`"),
        "{errs:?}"
    );

    // A misspelt matcher key is reported with its full path.
    let errs = errors("[[dispatcher.route.routes]]\nmatchers = { event = \"loitering\" }\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].0, "dispatcher.route.routes[0].matchers.event",
        "{errs:?}"
    );

    // A matcher of the wrong type says what it expected.
    let errs = errors("[[dispatcher.route.routes]]\nmatchers = { camera_tag = 3 }\n");
    assert!(
        errs[0].1.contains("a string or a list of strings"),
        "{errs:?}"
    );

    // "jurisdiction" is a receiver keyword, so it cannot be a desk id.
    let errs = NodeConfig::parse(
        &format!("{NODE}\n[[desk]]\nid = \"jurisdiction\"\nname = \"x\"\nkind = \"queue\"\n"),
        Path::new("xueliang.toml"),
    )
    .unwrap_err();
    assert!(
        errs.0
            .iter()
            .any(|e| e.key == "desk[9].id" && e.message.contains("reserved")),
        "{errs}"
    );
}

#[test]
fn jurisdiction_matcher_must_name_a_known_area() {
    let node = node(
        r#"
[[dispatcher.route.routes]]
matchers = { jurisdiction = ["shekou", "atlantis"] }
receiver = "port-traffic"
"#,
    )
    .unwrap();
    let errs = Router::new(&node, &jurisdictions(JURISDICTIONS)).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(
        errs.0[0].key,
        "dispatcher.route.routes[0].matchers.jurisdiction[1]"
    );
    assert!(errs.0[0].message.contains("`atlantis`"), "{errs}");
}

#[test]
fn valid_tree_is_parsed_as_written() {
    use xueliang_core::config::Receiver;
    let n = node(ROUTES).unwrap();
    let tree = &n.dispatcher.route;
    let names: Vec<&str> = tree.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "root",
            "camera-faults",
            "crowd-copy-centre",
            "schools",
            "schools-serious",
            "enterprise-minor",
            "port-parking"
        ]
    );
    let schools = &tree.root.routes[2];
    assert_eq!(schools.receiver, Receiver::Jurisdiction, "inherited");
    assert_eq!(
        schools.routes[0].key,
        "dispatcher.route.routes[2].routes[0]"
    );
    assert!(schools.routes[0].continue_matching);
}
