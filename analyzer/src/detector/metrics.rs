//! Metric names of the detector stage. Labels come from fixed sets (`result`, `reason`,
//! `step`); per-camera counts belong to the caller, which knows the camera.

use metrics::{Unit, describe_counter, describe_histogram};

/// Frames submitted to the detector queue.
pub const QUEUE_PUSHED: &str = "xueliang_detector_queue_pushed_total";
/// Frames taken off the detector queue by a worker (pushed − popped = depth).
pub const QUEUE_POPPED: &str = "xueliang_detector_queue_popped_total";
/// Frames refused at submit (label `reason`: `queue_full`, `closed`); the caller drops them.
pub const DROPPED: &str = "xueliang_detector_dropped_total";
/// Frames detected (label `result`: `ok`, `error`).
pub const FRAMES: &str = "xueliang_detector_frames_total";
/// Frames per `session.run`.
pub const BATCH_SIZE: &str = "xueliang_detector_batch_size";
/// Time per batch and step (label `step`: `preprocess`, `inference`, `postprocess`).
pub const BATCH_SECONDS: &str = "xueliang_detector_batch_seconds";
/// From submit to the start of the frame's batch.
pub const QUEUE_WAIT_SECONDS: &str = "xueliang_detector_queue_wait_seconds";

pub fn describe() {
    describe_counter!(QUEUE_PUSHED, "Frames submitted to the detector queue.");
    describe_counter!(QUEUE_POPPED, "Frames taken off the detector queue.");
    describe_counter!(
        DROPPED,
        "Frames refused by the detector queue (label `reason`: queue_full, closed)."
    );
    describe_counter!(FRAMES, "Frames detected (label `result`: ok, error).");
    describe_histogram!(BATCH_SIZE, "Frames per inference batch.");
    describe_histogram!(
        BATCH_SECONDS,
        Unit::Seconds,
        "Detector time per batch (label `step`: preprocess, inference, postprocess)."
    );
    describe_histogram!(
        QUEUE_WAIT_SECONDS,
        Unit::Seconds,
        "Time a frame waited in the detector queue before its batch started."
    );
}
