//! Ingest: keeps a live RTSP session to every camera in the inventory (with its state:
//! streaming, stalled, offline, …), samples and decodes frames, measures the luma statistics
//! camera health is judged on, and hands frames to the analyzer.
//!
//! Layout, in data-flow order: [`session`] (one retina RTSP session per camera, a tokio task
//! with backoff and a state) → [`sampler`] (keyframes / N fps / all, split around the decoder)
//! → [`decode`] (a bounded pool of GStreamer decoder threads, emitting the decoder's own YUV
//! pictures; the detector scales and converts them) → [`frame::Frame`] on a bounded queue to
//! the analyzer (drop newest when full, counted). [`supervisor`] runs the set of cameras and
//! can apply an inventory reload ([`IngestHandle::reload`]; `xueliang run` does not call it:
//! it reads the inventory once, at start); [`stats`] holds the per-camera counters and
//! Prometheus metrics. The camera simulator and the
//! benchmarks live beside the product (`camsim/`, `benches/harness/`).

pub mod decode;
pub mod frame;
pub mod sampler;
pub mod session;
pub mod stats;
pub mod supervisor;

pub use frame::Frame;
pub use session::{CameraState, CameraStatus};
pub use supervisor::{Ingest, IngestHandle, IngestOptions, ReloadSummary, frame_channel};
