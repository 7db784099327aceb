//! The decoder's own picture, kept for evidence. The frame itself ([`Frame`]), its luma
//! statistics and its capture clock are `xueliang_core::frame`, re-exported here.

use std::fmt;

pub use xueliang_core::frame::{CaptureClock, EvidenceSource, Frame, LumaStats};
pub use xueliang_core::picture::PixelFormat;

/// The decoder's own output picture at the stream's resolution (YUV, as decoded), kept by
/// reference. Convert it with [`SourcePicture::to_bgr`] when a full-size image is needed.
#[derive(Clone)]
pub struct SourcePicture {
    pub(crate) buffer: gstreamer::Buffer,
    pub(crate) info: gstreamer_video::VideoInfo,
}

impl SourcePicture {
    pub fn width(&self) -> u32 {
        self.info.width()
    }

    pub fn height(&self) -> u32 {
        self.info.height()
    }

    /// Converts to packed BGR at the source size, or scaled (stretched) to `size`.
    /// Costs one colour conversion (a few ms at 1080p); meant for evidence, not every frame.
    pub fn to_bgr(&self, size: Option<(u32, u32)>) -> Result<Vec<u8>, crate::decode::DecodeError> {
        crate::decode::convert::to_bgr(&self.buffer, &self.info, size)
    }
}

impl fmt::Debug for SourcePicture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SourcePicture({}x{} {:?})",
            self.info.width(),
            self.info.height(),
            self.info.format()
        )
    }
}

impl EvidenceSource for SourcePicture {
    fn bgr(&self) -> Option<(u32, u32, Vec<u8>)> {
        let (w, h) = (self.width(), self.height());
        self.to_bgr(None).ok().map(|px| (w, h, px))
    }
}
