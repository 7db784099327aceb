//! Dispatcher: consumes Alert v1 from Kafka, routes each alert to the responsible desk, groups
//! alerts into incidents, persists them and serves the desk API and UI. (Being built under
//! issue #5.)

pub mod api;
pub mod clock;
pub mod consume;
pub mod policy;
pub mod push;
pub mod routing;
pub mod store;
pub mod ui;
