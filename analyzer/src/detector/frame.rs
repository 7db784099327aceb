//! What the detector reads: a borrowed view of a packed BGR24 image, and the trait that lets
//! the pipeline's own frame type go through the pool without copying pixels.

/// A borrowed BGR24 image (3 bytes per pixel, B first), rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    pub width: u32,
    pub height: u32,
    /// Bytes from the start of one row to the next (≥ `3 * width`).
    pub stride: usize,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is empty ({width}x{height})")]
    Empty { width: u32, height: u32 },
    #[error("frame stride {stride} is less than 3 x width {width}")]
    Stride { width: u32, stride: usize },
    #[error(
        "frame buffer holds {len} bytes, a {width}x{height} BGR24 frame with stride {stride} needs {need}"
    )]
    Short {
        width: u32,
        height: u32,
        stride: usize,
        len: usize,
        need: usize,
    },
}

impl<'a> FrameRef<'a> {
    /// A tightly packed frame (`stride = 3 * width`).
    pub fn packed(width: u32, height: u32, data: &'a [u8]) -> Self {
        FrameRef {
            width,
            height,
            stride: 3 * width as usize,
            data,
        }
    }

    /// Checks that the buffer really holds the frame the header describes.
    pub fn check(&self) -> Result<(), FrameError> {
        let (w, h) = (self.width, self.height);
        if w == 0 || h == 0 {
            return Err(FrameError::Empty {
                width: w,
                height: h,
            });
        }
        if self.stride < 3 * w as usize {
            return Err(FrameError::Stride {
                width: w,
                stride: self.stride,
            });
        }
        let need = self.stride * (h as usize - 1) + 3 * w as usize;
        if self.data.len() < need {
            return Err(FrameError::Short {
                width: w,
                height: h,
                stride: self.stride,
                len: self.data.len(),
                need,
            });
        }
        Ok(())
    }
}

/// Something the [`DetectorPool`](super::DetectorPool) can detect on: the pipeline's frame
/// type (camera id, pts, pixels…). The pool hands the value back with its detections, so the
/// tracker and the evidence writer get the pixels without a copy.
pub trait DetectInput: Send + 'static {
    fn frame(&self) -> FrameRef<'_>;
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
    fn frame(&self) -> FrameRef<'_> {
        FrameRef::packed(self.width, self.height, &self.bgr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_catches_short_buffers_and_bad_strides() {
        let buf = vec![0u8; 10 * 3 * 4];
        assert!(FrameRef::packed(10, 4, &buf).check().is_ok());
        assert!(matches!(
            FrameRef::packed(10, 5, &buf).check(),
            Err(FrameError::Short { need: 150, .. })
        ));
        let f = FrameRef {
            width: 10,
            height: 2,
            stride: 20,
            data: &buf,
        };
        assert!(matches!(f.check(), Err(FrameError::Stride { .. })));
        // The last row need not be padded to the full stride.
        let f = FrameRef {
            width: 10,
            height: 3,
            stride: 40,
            data: &buf[..40 * 2 + 30],
        };
        assert!(f.check().is_ok());
        assert!(FrameRef::packed(0, 3, &buf).check().is_err());
    }
}
