//! Getting pixels out of GStreamer buffers.
//!
//! GStreamer may pad rows (strides rounded to 4 bytes, or a decoder's own alignment carried in
//! a `VideoMeta`) and may place planes anywhere in the buffer, so pixels are always read
//! through a mapped [`VideoFrame`], which honours both. The decoder's buffer is mapped once and
//! its planes are shared as [`Bytes`], not copied.

use std::sync::Arc;

use bytes::Bytes;
use gst_video::prelude::*;
use gst_video::{VideoFormat, VideoFrame, VideoInfo, video_frame::Readable};
use gstreamer as gst;
use gstreamer_video as gst_video;
use xueliang_core::picture::{Colorimetry, Picture, YuvMatrix, YuvRange};

use super::DecodeError;

/// One plane of a mapped frame, owned: keeps the buffer mapped for as long as any plane lives.
struct MappedPlane(Arc<VideoFrame<Readable>>, u32);

impl AsRef<[u8]> for MappedPlane {
    fn as_ref(&self) -> &[u8] {
        self.0.plane_data(self.1).unwrap_or(&[])
    }
}

/// The caps' colour matrix and range, as the pre-processor needs them.
fn colorimetry(info: &VideoInfo) -> Colorimetry {
    let c = info.colorimetry();
    Colorimetry {
        matrix: match c.matrix() {
            gst_video::VideoColorMatrix::Bt709 => YuvMatrix::Bt709,
            _ => YuvMatrix::Bt601,
        },
        range: match c.range() {
            gst_video::VideoColorRange::Range0_255 => YuvRange::Full,
            _ => YuvRange::Limited,
        },
    }
}

/// A decoded I420, NV12 or BGR buffer as a [`Picture`] sharing the buffer's memory.
pub(crate) fn picture(buffer: gst::Buffer, info: &VideoInfo) -> Result<Picture, DecodeError> {
    let frame = VideoFrame::from_buffer_readable(buffer, info)
        .map_err(|_| DecodeError::Convert("cannot map the decoded buffer".into()))?;
    let (w, h) = (frame.width(), frame.height());
    let strides: Vec<usize> = frame.plane_stride().iter().map(|&s| s as usize).collect();
    let format = frame.format();
    let frame = Arc::new(frame);
    let plane = |i: u32| -> Result<(Bytes, usize), DecodeError> {
        frame
            .plane_data(i)
            .map_err(|e| DecodeError::Convert(format!("{format:?} plane {i}: {e}")))?;
        Ok((
            Bytes::from_owner(MappedPlane(frame.clone(), i)),
            strides[i as usize],
        ))
    };
    let pic = match format {
        VideoFormat::I420 => {
            Picture::i420(w, h, [plane(0)?, plane(1)?, plane(2)?], colorimetry(info))
        }
        VideoFormat::Nv12 => Picture::nv12(w, h, plane(0)?, plane(1)?, colorimetry(info)),
        VideoFormat::Bgr => Picture::bgr(w, h, plane(0)?),
        other => {
            return Err(DecodeError::Convert(format!(
                "decoder produced {other:?}; expected I420, NV12 or BGR"
            )));
        }
    };
    pic.view()
        .check()
        .map_err(|e| DecodeError::Convert(e.to_string()))?;
    Ok(pic)
}

fn copy_rows(data: &[u8], row: usize, stride: usize, rows: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(row * rows);
    for y in 0..rows {
        out.extend_from_slice(&data[y * stride..y * stride + row]);
    }
    out
}

/// Converts any raw video buffer to packed BGR, at its own size or stretched to `size`.
pub(crate) fn to_bgr(
    buffer: &gst::Buffer,
    info: &VideoInfo,
    size: Option<(u32, u32)>,
) -> Result<Vec<u8>, DecodeError> {
    let err = |e: &dyn std::fmt::Display| DecodeError::Convert(e.to_string());
    let (w, h) = size.unwrap_or((info.width(), info.height()));
    if w == 0 || h == 0 {
        return Err(DecodeError::Convert(format!("cannot convert to {w}x{h}")));
    }
    let out_info = VideoInfo::builder(VideoFormat::Bgr, w, h)
        .fps(info.fps())
        .interlace_mode(info.interlace_mode())
        .build()
        .map_err(|e| err(&e))?;
    let converter = gst_video::VideoConverter::new(info, &out_info, None).map_err(|e| err(&e))?;
    let src = VideoFrame::from_buffer_readable(buffer.clone(), info)
        .map_err(|_| DecodeError::Convert("cannot map the source picture".into()))?;
    let out = gst::Buffer::with_size(out_info.size()).map_err(|e| err(&e))?;
    let mut dst = VideoFrame::from_buffer_writable(out, &out_info)
        .map_err(|_| DecodeError::Convert("cannot map the output picture".into()))?;
    converter.frame(&src, &mut dst);
    let stride = dst.plane_stride()[0] as usize;
    let data = dst.plane_data(0).map_err(|e| err(&e))?;
    Ok(copy_rows(data, w as usize * 3, stride, h as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_are_shared_with_their_strides_and_yuv_converts() {
        super::super::init().unwrap();
        // 3x2 BGR: rows of 9 bytes padded to a stride of 12 by GStreamer's default layout.
        let info = VideoInfo::builder(VideoFormat::Bgr, 3, 2).build().unwrap();
        assert_eq!(info.stride()[0], 12);
        let mut raw = vec![0u8; info.size()];
        for (i, b) in raw[..9].iter_mut().enumerate() {
            *b = i as u8;
        }
        for (i, b) in raw[12..21].iter_mut().enumerate() {
            *b = 100 + i as u8;
        }
        let pic = picture(gst::Buffer::from_mut_slice(raw), &info).unwrap();
        let bgr = pic.view().to_bgr();
        assert_eq!(bgr.len(), 18);
        assert_eq!(&bgr[..9], &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(bgr[9], 100);

        // 6x4 I420: planes keep GStreamer's strides (Y 8, chroma 4) and their content.
        let yuv = VideoInfo::builder(VideoFormat::I420, 6, 4).build().unwrap();
        let mut raw = vec![128u8; yuv.size()];
        let y_len = yuv.offset()[1];
        raw[..y_len].fill(126);
        let pic = picture(gst::Buffer::from_mut_slice(raw.clone()), &yuv).unwrap();
        let view = pic.view();
        let xueliang_core::picture::Pixels::I420 { y, u, .. } = view.pixels else {
            panic!("{:?}", view.format())
        };
        assert_eq!(
            (y.stride, u.stride),
            (yuv.stride()[0] as usize, yuv.stride()[1] as usize)
        );
        assert!(y.row(3, 6).iter().all(|&v| v == 126));

        // And the GStreamer converter (evidence) turns it into grey BGR at any size.
        let bgr = to_bgr(&gst::Buffer::from_mut_slice(raw), &yuv, Some((8, 4))).unwrap();
        assert_eq!(bgr.len(), 8 * 4 * 3);
        assert!(bgr.iter().all(|&v| (110..=140).contains(&v)), "{bgr:?}");
    }
}
