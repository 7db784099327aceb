//! Analyzer: batches frames across cameras, runs the detector on ONNX Runtime, tracks objects,
//! evaluates rules and publishes Alert v1 to Kafka. (Being built under issue #4.)

pub mod detector;
pub mod evidence;
pub mod health;
pub mod model;
pub mod pipeline;
pub mod publish;
pub mod rules;
pub mod tracker;
pub mod types;
