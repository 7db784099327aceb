//! Getting packed BGR bytes out of GStreamer buffers.
//!
//! GStreamer may pad rows (strides rounded to 4 bytes, or a decoder's own alignment carried in
//! a `VideoMeta`), so pixels are always read through a mapped [`VideoFrame`], which honours
//! both. When rows are already packed the bytes are shared with the buffer, not copied.

use bytes::Bytes;
use gst_video::prelude::*;
use gst_video::{VideoFormat, VideoFrame, VideoInfo, video_frame::Readable};
use gstreamer as gst;
use gstreamer_video as gst_video;

use super::DecodeError;

/// Plane 0 of a mapped frame, owned: keeps the buffer mapped for as long as the bytes live.
struct Plane0(VideoFrame<Readable>);

impl AsRef<[u8]> for Plane0 {
    fn as_ref(&self) -> &[u8] {
        self.0.plane_data(0).unwrap_or(&[])
    }
}

/// Packed BGR bytes (`width * height * 3`) of a BGR buffer; shares the buffer when possible.
pub(crate) fn packed_bgr(buffer: gst::Buffer, info: &VideoInfo) -> Result<Bytes, DecodeError> {
    debug_assert_eq!(info.format(), VideoFormat::Bgr);
    let frame = VideoFrame::from_buffer_readable(buffer, info)
        .map_err(|_| DecodeError::Convert("cannot map the decoded BGR buffer".into()))?;
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let row = w * 3;
    let stride = frame.plane_stride()[0] as usize;
    let data = frame
        .plane_data(0)
        .map_err(|e| DecodeError::Convert(e.to_string()))?;
    if data.len() < stride * (h.saturating_sub(1)) + row {
        return Err(DecodeError::Convert(format!(
            "BGR plane of {} bytes is too small for {w}x{h} at stride {stride}",
            data.len()
        )));
    }
    if stride == row {
        return Ok(Bytes::from_owner(Plane0(frame)).slice(..row * h));
    }
    Ok(Bytes::from(copy_rows(data, row, stride, h)))
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
    fn padded_rows_are_repacked_and_yuv_converts() {
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
        let bytes = packed_bgr(gst::Buffer::from_mut_slice(raw), &info).unwrap();
        assert_eq!(bytes.len(), 18);
        assert_eq!(&bytes[..9], &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(bytes[9], 100);

        // A mid-grey I420 picture converts to grey BGR at any size.
        let yuv = VideoInfo::builder(VideoFormat::I420, 16, 16)
            .build()
            .unwrap();
        let mut raw = vec![128u8; yuv.size()];
        raw[..256].fill(126);
        let bgr = to_bgr(&gst::Buffer::from_mut_slice(raw), &yuv, Some((8, 4))).unwrap();
        assert_eq!(bgr.len(), 8 * 4 * 3);
        assert!(bgr.iter().all(|&v| (110..=140).contains(&v)), "{bgr:?}");
    }
}
