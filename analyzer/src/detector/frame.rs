//! What the detector reads: a borrowed picture ([`PictureRef`], BGR or the decoder's YUV), and
//! the trait that lets the pipeline's own frame type go through the pool without copying
//! pixels.

pub use xueliang_core::picture::{PictureError, PictureRef};

/// Something the [`DetectorPool`](super::DetectorPool) can detect on: the pipeline's frame
/// type (camera id, pts, pixels…). The pool hands the value back with its detections, so the
/// tracker and the evidence writer get the pixels without a copy.
pub trait DetectInput: Send + 'static {
    fn frame(&self) -> PictureRef<'_>;
}

/// A ready-made [`DetectInput`]: owned packed BGR24 pixels plus an opaque caller tag (e.g.
/// camera id and pts).
#[derive(Debug, Clone)]
pub struct TaggedFrame<T> {
    pub tag: T,
    pub width: u32,
    pub height: u32,
    pub bgr: Vec<u8>,
}

impl<T: Send + 'static> DetectInput for TaggedFrame<T> {
    fn frame(&self) -> PictureRef<'_> {
        PictureRef::bgr(self.width, self.height, &self.bgr)
    }
}
