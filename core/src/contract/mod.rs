//! The wire contract: what crosses process boundaries (Kafka, the HTTP API, the store).
//!
//! Every type here is versioned by its module's contract version. What one xueliang process
//! writes for another that may run an older build — an alert (`AlertV1`), a camera's status
//! (`CameraStatusV1`) — accepts unknown fields within its version, so that a rolling upgrade
//! does not dead-letter a newer producer's records (see [`AlertV1`] for the rule); what only
//! the dispatcher writes (incidents, desks, cameras in the API) denies them.
//! Times are RFC 3339 UTC. The JSON Schemas under `deploy/schema/` are generated from these
//! types by [`schemas`] and checked against the code by a test.

mod alert;
mod camera;
mod camera_status;
mod desk;
mod incident;

pub use alert::*;
pub use camera::*;
pub use camera_status::*;
pub use desk::*;
pub use incident::*;

/// Every contract type with the file name of its checked-in schema, in a stable order.
pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("alert-v1.schema.json", schemars::schema_for!(AlertV1)),
        ("camera-v1.schema.json", schemars::schema_for!(CameraV1)),
        (
            "camera-status-v1.schema.json",
            schemars::schema_for!(CameraStatusV1),
        ),
        ("desk-v1.schema.json", schemars::schema_for!(DeskV1)),
        (
            "jurisdiction-v1.schema.json",
            schemars::schema_for!(JurisdictionV1),
        ),
        ("incident-v1.schema.json", schemars::schema_for!(IncidentV1)),
    ]
}
