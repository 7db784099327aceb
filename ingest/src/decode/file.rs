//! Decoding a whole video file for `xueliang analyze-file`:
//! `filesrc ! decodebin ! [videoscale ! size] ! videoconvert ! BGR appsink`.
//!
//! - `decodebin` picks whatever decoder the file needs (vtest.avi is MS-MPEG4 in AVI, decoded
//!   by gstreamer1.0-libav), so any container/codec GStreamer can play works.
//! - The time range is an accurate flushing seek after preroll: the demuxer starts at the
//!   keyframe before `from_s`, the decoder clips frames before it, and the segment ends at
//!   `to_s` (EOS), so no frame outside the range is converted.
//! - `max_fps` paces with the same [`Pacer`] as live cameras, in a probe before scale and
//!   convert, so skipped frames cost a decode only.
//! - The appsink holds at most two frames and blocks the pipeline: decoding runs ahead of the
//!   consumer by at most two frames, whatever the file size.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use xueliang_core::config::Sampling;

use super::convert::picture;
use super::{DecodeError, make};
use crate::sampler::Pacer;

/// What part of the file to decode, and how.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileDecodeOptions {
    /// Start at this stream time (seconds); default: the beginning.
    pub from_s: Option<f64>,
    /// Stop at this stream time (seconds, exclusive); default: the end.
    pub to_s: Option<f64>,
    /// Emit at most this many frames per second of stream time; default: every frame.
    pub max_fps: Option<f32>,
    /// Stretch frames to this size; default: the file's own size.
    pub size: Option<(u32, u32)>,
}

/// One decoded picture of a file.
#[derive(Clone, PartialEq)]
pub struct FileFrame {
    /// Presentation time in seconds from the start of the file.
    pub pts_s: f64,
    pub width: u32,
    pub height: u32,
    /// Packed BGR, `width * height * 3` bytes.
    pub bgr: Vec<u8>,
}

impl std::fmt::Debug for FileFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FileFrame({:.3}s {}x{})",
            self.pts_s, self.width, self.height
        )
    }
}

/// How long to wait for the pipeline to preroll or for the next frame before giving up.
const WAIT: gst::ClockTime = gst::ClockTime::from_seconds(30);

/// An iterator over the decoded frames of a file. Dropping it stops the pipeline.
pub struct FileDecoder {
    path: PathBuf,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    bus: gst::Bus,
    source_size: Option<(u32, u32)>,
    duration_s: Option<f64>,
    to_s: Option<f64>,
    done: bool,
}

impl FileDecoder {
    /// Opens `path` and prerolls (the first frame is decoded before this returns), so format
    /// errors surface here rather than on the first `next()`.
    pub fn open(path: &Path, opts: FileDecodeOptions) -> Result<FileDecoder, DecodeError> {
        super::init()?;
        let fail = |what: String| DecodeError::File {
            path: path.display().to_string(),
            what,
        };
        if !path.is_file() {
            return Err(fail("no such file".into()));
        }
        for (name, v) in [("from_s", opts.from_s), ("to_s", opts.to_s)] {
            if v.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
                return Err(fail(format!(
                    "{name} must be a non-negative number of seconds"
                )));
            }
        }
        if let (Some(a), Some(b)) = (opts.from_s, opts.to_s)
            && b <= a
        {
            return Err(fail(format!("to_s {b} must be after from_s {a}")));
        }
        if opts.max_fps.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
            return Err(fail("max_fps must be positive".into()));
        }

        let src = make("filesrc")?;
        src.set_property("location", path);
        let decodebin = make("decodebin")?;
        // The pacer probe sits on identity's src pad: dropping a buffer in a probe on the
        // sink pad that decodebin's ghost pad feeds makes GStreamer 1.22 unref a NULL buffer.
        let gate = make("identity")?;
        let mut chain = vec![gate.clone()];
        if let Some((w, h)) = opts.size {
            let scale = make("videoscale")?;
            scale.set_property("add-borders", false);
            let size = make("capsfilter")?;
            size.set_property(
                "caps",
                gst::Caps::builder("video/x-raw")
                    .field("width", w as i32)
                    .field("height", h as i32)
                    .build(),
            );
            chain.push(scale);
            chain.push(size);
        }
        chain.push(make("videoconvert")?);
        let sink = gst_app::AppSink::builder()
            .caps(
                &gst::Caps::builder("video/x-raw")
                    .field("format", "BGR")
                    .build(),
            )
            .sync(false)
            .max_buffers(2)
            .enable_last_sample(false)
            .build();

        let pipeline = gst::Pipeline::new();
        pipeline
            .add_many([&src, &decodebin])
            .map_err(|e| fail(e.to_string()))?;
        pipeline.add_many(&chain).map_err(|e| fail(e.to_string()))?;
        pipeline.add(&sink).map_err(|e| fail(e.to_string()))?;
        src.link(&decodebin).map_err(|e| fail(e.to_string()))?;
        let mut tail = chain.clone();
        tail.push(sink.clone().upcast());
        gst::Element::link_many(&tail).map_err(|e| fail(e.to_string()))?;

        let head = chain[0]
            .static_pad("sink")
            .ok_or_else(|| fail("converter without sink pad".into()))?;
        let pacer = Arc::new(Mutex::new(Pacer::new(
            opts.max_fps.map_or(Sampling::All, Sampling::Fps),
        )));
        let gate_src = gate
            .static_pad("src")
            .ok_or_else(|| fail("identity without src pad".into()))?;
        gate_src.add_probe(gst::PadProbeType::BUFFER, move |_pad, info| {
            let pts = info
                .buffer()
                .and_then(|b| b.pts())
                .map_or(Duration::ZERO, |t| Duration::from_nanos(t.nseconds()));
            let mut p = pacer.lock().unwrap_or_else(|e| e.into_inner());
            if p.admit(pts) {
                gst::PadProbeReturn::Ok
            } else {
                gst::PadProbeReturn::Drop
            }
        });
        // decodebin exposes its pads once it has typefound the file: link the first video pad.
        let head_weak = head.downgrade();
        decodebin.connect_pad_added(move |_, pad| {
            let Some(head) = head_weak.upgrade() else {
                return;
            };
            let is_video = pad
                .current_caps()
                .or_else(|| Some(pad.query_caps(None)))
                .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                .unwrap_or(false);
            if is_video && !head.is_linked() {
                let _ = pad.link(&head);
            }
        });

        let bus = pipeline
            .bus()
            .ok_or_else(|| fail("pipeline without a bus".into()))?;
        let mut me = FileDecoder {
            path: path.to_path_buf(),
            pipeline,
            sink,
            bus,
            source_size: None,
            duration_s: None,
            to_s: opts.to_s,
            done: false,
        };
        me.pipeline
            .set_state(gst::State::Paused)
            .map_err(|_| me.bus_error().unwrap_or_else(|| fail("cannot open".into())))?;
        me.wait_async_done()?;
        me.duration_s = me
            .pipeline
            .query_duration::<gst::ClockTime>()
            .map(|d| d.nseconds() as f64 / 1e9);
        if opts.from_s.is_some() || opts.to_s.is_some() {
            let start = gst::ClockTime::from_nseconds((opts.from_s.unwrap_or(0.0) * 1e9) as u64);
            let (stop_type, stop) = match opts.to_s {
                Some(t) => (
                    gst::SeekType::Set,
                    Some(gst::ClockTime::from_nseconds((t * 1e9) as u64)),
                ),
                None => (gst::SeekType::None, None),
            };
            me.pipeline
                .seek(
                    1.0,
                    gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                    gst::SeekType::Set,
                    start,
                    stop_type,
                    stop,
                )
                .map_err(|_| fail("the file cannot seek to the requested range".into()))?;
            me.wait_async_done()?;
        }
        if let Some(caps) = head.current_caps()
            && let Ok(info) = gst_video::VideoInfo::from_caps(&caps)
        {
            me.source_size = Some((info.width(), info.height()));
        }
        me.pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| me.bus_error().unwrap_or_else(|| fail("cannot play".into())))?;
        Ok(me)
    }

    /// The file's picture size (before any scaling), once known.
    pub fn source_size(&self) -> Option<(u32, u32)> {
        self.source_size
    }

    /// The file's duration in seconds, if the container says.
    pub fn duration_s(&self) -> Option<f64> {
        self.duration_s
    }

    fn wait_async_done(&self) -> Result<(), DecodeError> {
        match self.bus.timed_pop_filtered(
            WAIT,
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        ) {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(e) => Err(self.error(format!("{}", e.error()))),
                _ => Ok(()),
            },
            None => Err(self.error("timed out opening the file".into())),
        }
    }

    fn bus_error(&self) -> Option<DecodeError> {
        while let Some(msg) = self.bus.pop() {
            if let gst::MessageView::Error(e) = msg.view() {
                let debug = e.debug().map(|d| d.to_string()).unwrap_or_default();
                return Some(self.error(format!("{} ({debug})", e.error())));
            }
        }
        None
    }

    fn error(&self, what: String) -> DecodeError {
        DecodeError::File {
            path: self.path.display().to_string(),
            what,
        }
    }
}

impl Iterator for FileDecoder {
    type Item = Result<FileFrame, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let Some(sample) = self.sink.try_pull_sample(WAIT) else {
                self.done = true;
                if let Some(e) = self.bus_error() {
                    return Some(Err(e));
                }
                if self.sink.is_eos() {
                    return None;
                }
                return Some(Err(self.error("no frame within 30 s".into())));
            };
            let (Some(buffer), Some(caps)) = (sample.buffer_owned(), sample.caps()) else {
                continue;
            };
            let pts_s = buffer.pts().map_or(0.0, |t| t.nseconds() as f64 / 1e9);
            // The segment stop clips at the demuxer/decoder; this guards containers that
            // overshoot by a frame.
            if self.to_s.is_some_and(|t| pts_s >= t) {
                continue;
            }
            let info = match gst_video::VideoInfo::from_caps(caps) {
                Ok(i) => i,
                Err(e) => return Some(Err(self.error(e.to_string()))),
            };
            return Some(picture(buffer, &info).map(|p| FileFrame {
                pts_s,
                width: info.width(),
                height: info.height(),
                bgr: p.view().to_bgr(),
            }));
        }
    }
}

impl std::fmt::Debug for FileDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDecoder")
            .field("path", &self.path)
            .field("source_size", &self.source_size)
            .finish_non_exhaustive()
    }
}

impl Drop for FileDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
