//! The detector stage: pictures in (the decoder's own I420 or NV12, or BGR),
//! [`Detection`](crate::types::Detection)s out, on ONNX Runtime through the `ort` crate.
//!
//! Layers, each usable on its own:
//! - [`preprocess`]: any-size picture (I420, NV12 or BGR `u8`) → stretched, normalised NCHW
//!   `f32` written straight into one slot of the batch tensor (colour conversion fused, no
//!   intermediate image).
//! - [`postprocess`]: GFL box decoding and class-wise NMS, with boxes scaled back to the source
//!   frame.
//! - [`Detector`]: one `ort::Session` plus its reusable buffers; `detect_batch` runs any number
//!   of frames as batches of at most `max_batch`. It is `Send` but deliberately not shared:
//!   `Session::run` takes `&mut self`, so parallelism comes from one detector per thread.
//! - [`DetectorPool`]: N worker threads (std threads, never the async runtime), each owning a
//!   `Detector`, fed by one bounded queue that many cameras submit to. Batches form across
//!   cameras: up to `batch_max` frames, or whatever arrived within `batch_timeout` of the first.
//!   Results are delivered in submission order, so each camera's frames reach the tracker in
//!   order even with several workers.
//! - [`runtime`]: loading the ONNX Runtime library once per process.
//!
//! Execution providers: CPU always; CUDA and TensorRT when the crate is built with the `gpu`
//! feature (which enables ort's `cuda`/`tensorrt`) *and* ORT_DYLIB_PATH points at the GPU build
//! of ONNX Runtime. Asking for a GPU provider in a build without it is an error, not a silent
//! fall-back to CPU: a GPU node quietly running on CPU would be a capacity incident.

mod error;
mod frame;
pub mod metrics;
mod pool;
pub mod postprocess;
pub mod preprocess;
pub mod runtime;
mod session;

pub use error::DetectorError;
pub use frame::{DetectInput, PictureError, PictureRef, TaggedFrame};
pub use pool::{Detected, DetectorPool, PoolOptions, SubmitError, Submitter};
pub use session::{Detector, DetectorOptions, StageTimes};
