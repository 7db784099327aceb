//! One camera's decoder: a GStreamer pipeline fed by a pad push on the caller's thread.
//! See the [parent module](super) for the design.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use tokio::sync::mpsc;
use xueliang_core::CameraId;
use xueliang_core::config::Sampling;

use super::convert::picture;
use super::pool::EncodedUnit;
use super::{Codec, DecodeError, DecoderOptions, OutputSize, decoder_element, make};
use crate::frame::{CaptureClock, EvidenceSource, Frame, LumaStats, SourcePicture};
use crate::sampler::Pacer;
use crate::stats::{CameraCounters, DropReason};

/// Encoded frames waiting for their decoded picture; bounded in case a decoder swallows frames.
const MAX_PENDING: usize = 64;
/// At most one decoder warning per camera per this interval reaches the log at WARN.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What the output side needs to know about an encoded frame, matched by PTS.
#[derive(Debug, Clone)]
struct UnitMeta {
    pts: Duration,
    keyframe: bool,
    received_at: Instant,
    captured_at: DateTime<Utc>,
    capture_clock: CaptureClock,
}

/// State shared by the pusher, the pacer probe and the appsink callback. All three run on the
/// thread that calls [`StreamDecoder::push`], so the mutex is never contended.
struct Shared {
    pending: VecDeque<UnitMeta>,
    pacer: Pacer,
    source_info: Option<gst_video::VideoInfo>,
    pending_source: Option<SourcePicture>,
    out_info: Option<(gst::Caps, gst_video::VideoInfo)>,
    /// Keep the decoder's picture for evidence ([`DecoderOptions::keep_source`]).
    keep_source: bool,
    /// The pipeline scales, so the emitted picture is not the source picture.
    scales: bool,
}

impl Shared {
    /// Takes the meta of `pts`; older entries never produced a picture and are counted.
    fn take(&mut self, pts: Duration, counters: &CameraCounters) -> Option<UnitMeta> {
        while let Some(front) = self.pending.front() {
            if front.pts < pts {
                self.pending.pop_front();
                counters.decode_errors.add(1);
            } else if front.pts == pts {
                return self.pending.pop_front();
            } else {
                break;
            }
        }
        None
    }
}

fn lock(s: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic in a callback must not wedge the camera: the state stays usable.
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn clock_time(d: Duration) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(d.as_nanos() as u64)
}

fn duration(t: gst::ClockTime) -> Duration {
    Duration::from_nanos(t.nseconds())
}

/// A live camera's decoder. Not thread-safe by design: one owner thread pushes into it.
pub struct StreamDecoder {
    camera: CameraId,
    pipeline: gst::Pipeline,
    feed: gst::Pad,
    bus: gst::Bus,
    shared: Arc<Mutex<Shared>>,
    counters: Arc<CameraCounters>,
    decoder: &'static str,
    discont: bool,
    last_warn: Option<Instant>,
}

impl StreamDecoder {
    /// Builds and starts the pipeline. Frames go to `out` with `try_send`.
    pub fn new(
        camera: &CameraId,
        codec: Codec,
        sampling: Sampling,
        opts: &DecoderOptions,
        counters: Arc<CameraCounters>,
        out: mpsc::Sender<Frame>,
    ) -> Result<StreamDecoder, DecodeError> {
        super::init()?;
        let fail = |what: String| DecodeError::Pipeline {
            camera: camera.to_string(),
            what,
        };
        let decoder = decoder_element(codec, opts.accel);
        let parse = make(codec.parser())?;
        let dec = make(decoder)?;
        if decoder == codec.software_decoder() {
            // Parallelism comes from cameras on pool threads; libav's own threads would
            // multiply threads per camera and add a frame of latency per thread.
            dec.set_property("max-threads", 1i32);
        }
        let mut chain = vec![parse.clone(), dec.clone()];
        let scales = matches!(opts.output, OutputSize::Fixed { .. });
        if let OutputSize::Fixed { width, height } = opts.output {
            let scale = make("videoscale")?;
            scale.set_property("add-borders", false);
            let size = gst::ElementFactory::make("capsfilter")
                .property(
                    "caps",
                    gst::Caps::builder("video/x-raw")
                        .field("width", width as i32)
                        .field("height", height as i32)
                        .build(),
                )
                .build()
                .map_err(|_| DecodeError::MissingElement {
                    element: "capsfilter",
                    package: "gstreamer1.0 (core)",
                })?;
            chain.push(scale);
            chain.push(size);
        }
        chain.push(make("videoconvert")?);

        let shared = Arc::new(Mutex::new(Shared {
            pending: VecDeque::new(),
            pacer: Pacer::new(sampling),
            source_info: None,
            pending_source: None,
            out_info: None,
            keep_source: opts.keep_source,
            scales,
        }));
        let sink = gst_app::AppSink::builder()
            .caps(
                &gst::Caps::builder("video/x-raw")
                    // The decoders' own formats: videoconvert passes them through untouched
                    // and converts only an unusual one (4:2:2, 10-bit).
                    .field("format", gst::List::new(["I420", "NV12"]))
                    .build(),
            )
            .sync(false)
            .async_(false)
            .enable_last_sample(false)
            .max_buffers(2)
            .callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample({
                        let shared = shared.clone();
                        let counters = counters.clone();
                        let camera = camera.clone();
                        move |sink| {
                            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                            emit(&camera, &sample, &shared, &counters, &out);
                            Ok(gst::FlowSuccess::Ok)
                        }
                    })
                    .build(),
            )
            .build();

        let pipeline = gst::Pipeline::new();
        let mut all = chain.clone();
        all.push(sink.clone().upcast());
        pipeline
            .add_many(&all)
            .map_err(|e| fail(format!("cannot assemble: {e}")))?;
        gst::Element::link_many(&all).map_err(|e| fail(format!("cannot link: {e}")))?;

        let dec_src = dec
            .static_pad("src")
            .ok_or_else(|| fail(format!("{decoder} has no src pad")))?;
        dec_src.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            {
                let shared = shared.clone();
                let counters = counters.clone();
                move |_pad, info| match &info.data {
                    Some(gst::PadProbeData::Buffer(buffer)) => {
                        counters.decoded.add(1);
                        let pts = buffer.pts().map(duration).unwrap_or_default();
                        let mut s = lock(&shared);
                        if !s.pacer.admit(pts) {
                            // Not due: nothing downstream, no frame.
                            s.take(pts, &counters);
                            return gst::PadProbeReturn::Drop;
                        }
                        s.pending_source = if s.keep_source && s.scales {
                            s.source_info.clone().map(|info| SourcePicture {
                                buffer: buffer.clone(),
                                info,
                            })
                        } else {
                            None
                        };
                        gst::PadProbeReturn::Ok
                    }
                    Some(gst::PadProbeData::Event(ev)) => {
                        if let gst::EventView::Caps(c) = ev.view() {
                            lock(&shared).source_info =
                                gst_video::VideoInfo::from_caps(c.caps()).ok();
                        }
                        gst::PadProbeReturn::Ok
                    }
                    _ => gst::PadProbeReturn::Ok,
                }
            },
        );

        let bus = pipeline
            .bus()
            .ok_or_else(|| fail("pipeline without a bus".into()))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| fail(format!("cannot start: {e}")))?;

        let feed = gst::Pad::builder(gst::PadDirection::Src)
            .name("feed")
            .build();
        let parse_sink = parse
            .static_pad("sink")
            .ok_or_else(|| fail("parser has no sink pad".into()))?;
        feed.link(&parse_sink)
            .map_err(|e| fail(format!("cannot link the feed pad: {e:?}")))?;
        feed.set_active(true)
            .map_err(|e| fail(format!("cannot activate the feed pad: {e}")))?;
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        for event in [
            gst::event::StreamStart::new(&format!("xueliang/{camera}")),
            gst::event::Caps::new(&codec.caps()),
            gst::event::Segment::new(&segment),
        ] {
            if !feed.push_event(event) {
                return Err(fail("the parser refused the stream header events".into()));
            }
        }
        tracing::debug!(camera = %camera, decoder, ?codec, ?sampling, "decoder started");
        Ok(StreamDecoder {
            camera: camera.clone(),
            pipeline,
            feed,
            bus,
            shared,
            counters,
            decoder,
            discont: true,
            last_warn: None,
        })
    }

    /// The decoder element in use (e.g. `avdec_h264`, `nvh264dec`).
    pub fn decoder_element(&self) -> &'static str {
        self.decoder
    }

    /// Decodes one access unit. Pictures that are due come out through the frame channel
    /// before this returns. An `Err` means the pipeline is unusable and must be rebuilt.
    pub fn push(&mut self, unit: EncodedUnit) -> Result<(), DecodeError> {
        {
            let mut s = lock(&self.shared);
            if s.pending.len() >= MAX_PENDING {
                s.pending.pop_front();
            }
            s.pending.push_back(UnitMeta {
                pts: unit.pts,
                keyframe: unit.keyframe,
                received_at: unit.received_at,
                captured_at: unit.captured_at,
                capture_clock: unit.capture_clock,
            });
        }
        let mut buffer = gst::Buffer::from_mut_slice(unit.data);
        {
            let b = buffer.get_mut().expect("a new buffer is writable");
            b.set_pts(clock_time(unit.pts));
            let mut flags = gst::BufferFlags::empty();
            if !unit.keyframe {
                flags |= gst::BufferFlags::DELTA_UNIT;
            }
            if std::mem::take(&mut self.discont) {
                flags |= gst::BufferFlags::DISCONT;
            }
            b.set_flags(flags);
        }
        let flow = self.feed.push(buffer);
        self.drain_bus()?;
        flow.map(|_| ()).map_err(|e| DecodeError::Pipeline {
            camera: self.camera.to_string(),
            what: format!("{} returned {e:?}", self.decoder),
        })
    }

    /// Reads (and so frees) every pending bus message; an error message is fatal.
    fn drain_bus(&mut self) -> Result<(), DecodeError> {
        while let Some(msg) = self.bus.pop() {
            match msg.view() {
                gst::MessageView::Error(e) => {
                    self.counters.decode_errors.add(1);
                    return Err(DecodeError::Pipeline {
                        camera: self.camera.to_string(),
                        what: format!(
                            "{}: {}",
                            msg.src().map(|s| s.name().to_string()).unwrap_or_default(),
                            e.error()
                        ),
                    });
                }
                gst::MessageView::Warning(w) => {
                    self.counters.decode_errors.add(1);
                    let now = Instant::now();
                    if self
                        .last_warn
                        .is_none_or(|t| now.duration_since(t) >= WARN_EVERY)
                    {
                        self.last_warn = Some(now);
                        tracing::warn!(camera = %self.camera, warning = %w.error(),
                            "decoder warning (further ones for a minute at debug level)");
                    } else {
                        tracing::debug!(camera = %self.camera, warning = %w.error(), "decoder warning");
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Drop for StreamDecoder {
    fn drop(&mut self) {
        let _ = self.feed.set_active(false);
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Turns one appsink sample into a [`Frame`] and offers it to the analyzer queue.
fn emit(
    camera: &CameraId,
    sample: &gst::Sample,
    shared: &Mutex<Shared>,
    counters: &CameraCounters,
    out: &mpsc::Sender<Frame>,
) {
    let decoded_at = Instant::now();
    let (Some(buffer), Some(caps)) = (sample.buffer_owned(), sample.caps()) else {
        return;
    };
    let pts = buffer.pts().map(duration).unwrap_or_default();
    let (info, meta, source, source_size) = {
        let mut s = lock(shared);
        let info = match &s.out_info {
            Some((c, info)) if c.as_ptr() == caps.as_ptr() => info.clone(),
            _ => match gst_video::VideoInfo::from_caps(caps) {
                Ok(info) => {
                    s.out_info = Some((caps.to_owned(), info.clone()));
                    info
                }
                Err(_) => return,
            },
        };
        let meta = s.take(pts, counters);
        let source = match s.pending_source.take() {
            Some(p) => Some(p),
            None if s.keep_source && !s.scales => Some(SourcePicture {
                buffer: buffer.clone(),
                info: info.clone(),
            }),
            None => None,
        };
        let source_size = s
            .source_info
            .as_ref()
            .map_or((info.width(), info.height()), |i| (i.width(), i.height()));
        (info, meta, source, source_size)
    };
    let picture = match picture(buffer, &info) {
        Ok(p) => p,
        Err(e) => {
            counters.decode_errors.add(1);
            tracing::debug!(camera = %camera, error = %e, "unusable decoded picture");
            return;
        }
    };
    let luma = LumaStats::from_picture(&picture.view());
    let meta = meta.unwrap_or_else(|| UnitMeta {
        pts,
        keyframe: false,
        received_at: decoded_at,
        captured_at: Utc::now(),
        capture_clock: CaptureClock::Receive,
    });
    let frame = Frame {
        camera: camera.clone(),
        seq: counters
            .seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        pts,
        captured_at: meta.captured_at,
        capture_clock: meta.capture_clock,
        received_at: meta.received_at,
        decoded_at,
        keyframe: meta.keyframe,
        picture,
        source_size,
        luma,
        evidence: source.map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn EvidenceSource>),
    };
    let lag = frame.ingest_lag();
    match out.try_send(frame) {
        Ok(()) => counters.frame_emitted(lag),
        Err(mpsc::error::TrySendError::Full(_)) => counters.dropped(DropReason::QueueFull),
        // The analyzer is gone: shutting down.
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

impl std::fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDecoder")
            .field("camera", &self.camera)
            .field("decoder", &self.decoder)
            .finish_non_exhaustive()
    }
}

// The pool moves decoders onto worker threads.
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<StreamDecoder>();
};
