//! Ingest: keeps a live RTSP session to every camera in the inventory, samples and decodes
//! frames, watches camera health, and hands frames to the analyzer. Also home of the camera
//! simulator. (Being built under issue #3.)
//!
//! Layout, in data-flow order: [`session`] (one retina RTSP session per camera, a tokio task
//! with backoff and a state) → [`sampler`] (keyframes / N fps / all, split around the decoder)
//! → [`decode`] (a bounded pool of GStreamer decoder threads, scale + convert to the model's
//! BGR input) → [`frame::Frame`] on a bounded queue to the analyzer (drop newest when full,
//! counted). [`supervisor`] runs the set of cameras and applies inventory reloads; [`stats`]
//! holds the per-camera counters and Prometheus metrics; [`bench`] measures decode and
//! receive cost.

pub mod bench;
pub mod camsim;
pub mod decode;
pub mod frame;
pub mod sampler;
pub mod session;
pub mod stats;
pub mod supervisor;

pub use frame::Frame;
pub use session::{CameraState, CameraStatus};
pub use supervisor::{Ingest, IngestHandle, IngestOptions, ReloadSummary, frame_channel};
