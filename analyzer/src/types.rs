//! Values that flow between the analyzer's stages: detector → tracker → rules.

/// One detection in a frame. Boxes are in source-frame pixels, `[x1, y1, x2, y2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// COCO-80 class index (see `xueliang_core::labels::COCO80`).
    pub class: u16,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// A detection the tracker has associated with a track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedObject {
    /// Stable per camera for as long as the tracker keeps the object.
    pub track_id: u64,
    pub class: u16,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// What the rules see of one analysed frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Capture time of the frame.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Source frame size in pixels; rules normalise boxes with it.
    pub frame_size: [u32; 2],
    pub objects: Vec<TrackedObject>,
}
