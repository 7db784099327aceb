//! Analyzer: batches frames across cameras, runs the detector on ONNX Runtime, tracks objects,
//! evaluates rules and publishes Alert v1 to Kafka. [`edge::start`] wires the whole edge role
//! (ingest → camera health → analyzer → publisher) for `xueliang run` and the benchmarks.

pub mod analysis;
pub mod detector;
pub mod edge;
pub mod evidence;
pub mod health;
pub mod model;
pub mod pipeline;
pub mod publish;
pub mod rules;
pub mod status;
pub mod tracker;
pub mod types;
