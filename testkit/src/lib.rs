//! Test tooling shared by every crate's integration tests (a dev-dependency only; nothing in
//! the product links it): the one launcher of the real Kafka-protocol test broker
//! ([`broker`]), and child processes that are always stopped ([`process`]).
//!
//! Design decision: std + tempfile only, blocking, no async runtime, so a test of any crate
//! can use it without dragging in the product's dependencies.

pub mod broker;
pub mod process;

pub use broker::{Broker, free_port, tansu_binary};
pub use process::Killed;
