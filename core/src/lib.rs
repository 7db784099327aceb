//! The shared vocabulary of xueliang: the wire contract, configuration types, shutdown and
//! metric helpers. Every other crate depends on this one, so it stays small and does no I/O.
//!
//! Design decisions:
//! - **The contract is versioned and closed.** [`contract::AlertV1`] is what crosses Kafka;
//!   every struct denies unknown fields so a producer/consumer mismatch fails loudly at the
//!   boundary (and lands in the dead-letter topic) instead of silently losing data. A breaking
//!   change gets a new `AlertV2`, never an edited v1. The JSON Schema generated from these types
//!   is checked in under `deploy/schema/`, and a test fails when it drifts.
//! - **Ids are types.** A camera id and a desk id are never interchangeable strings.
//! - **Config is parsed twice.** Raw serde structs (`deny_unknown_fields`; their doc comments
//!   describe the keys) are validated into checked types; every error carries the file, the key
//!   path and what to change ([`config::ConfigError`]). Parsing takes text, not paths: reading
//!   files is the binary's job, which keeps this crate free of I/O and trivially testable.
//! - **Shutdown is a value** ([`shutdown::Shutdown`]) passed into every stage, so tests can drive
//!   it and the binary can map SIGINT/SIGTERM onto it.

pub mod config;
pub mod contract;
pub mod frame;
pub mod ids;
pub mod labels;
pub mod metrics;
pub mod paths;
pub mod picture;
pub mod shutdown;
pub mod supervise;

pub use ids::{CameraId, DeskId};
