//! Routing metrics. Labels come from fixed sets: the reason (five values) and route names
//! (defined in the config, so bounded by it).

use metrics::describe_counter;

/// Alerts routed, by `reason` (override, polygon, category_route, unknown_camera, outside_all).
pub const ROUTED_TOTAL: &str = "xueliang_dispatcher_routed_total";
/// Copies sent in addition to the primary desk (`continue = true` routes).
pub const ROUTE_COPIES_TOTAL: &str = "xueliang_dispatcher_route_copies_total";
/// Alerts each configured route matched, by `route` name.
pub const ROUTE_MATCHES_TOTAL: &str = "xueliang_dispatcher_route_matches_total";
/// Alerts from cameras missing from the dispatcher's inventory (routed to the centre).
pub const UNKNOWN_CAMERA_TOTAL: &str = "xueliang_dispatcher_unknown_camera_total";

/// Registers descriptions for the routing metrics.
pub fn describe_metrics() {
    describe_counter!(
        ROUTED_TOTAL,
        "Alerts routed to a primary desk, by reason (label `reason`)."
    );
    describe_counter!(
        ROUTE_COPIES_TOTAL,
        "Copies of alerts sent to additional desks by `continue = true` routes."
    );
    describe_counter!(
        ROUTE_MATCHES_TOTAL,
        "Alerts matched by each configured route (label `route`)."
    );
    describe_counter!(
        UNKNOWN_CAMERA_TOTAL,
        "Alerts from cameras missing from this dispatcher's inventory; routed to the centre."
    );
}
