//! Dispatcher: consumes Alert v1 from Kafka, routes each alert to the responsible desk, groups
//! alerts into incidents, persists them and serves the desk API and UI. [`role::start`] wires the
//! whole role for `xueliang run` and the benchmarks.

pub mod api;
pub mod camera_status;
pub mod catalog;
pub mod clock;
pub mod consume;
pub mod policy;
pub mod push;
pub mod push_relay;
pub mod role;
pub mod routing;
pub mod serve;
pub mod store;
pub mod ui;
