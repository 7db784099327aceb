//! Decoding with GStreamer (issue #3 part 3): live camera streams through a bounded pool of
//! decoder threads, and whole files for `xueliang analyze-file`.
//!
//! Design decisions:
//! - **One small pipeline per camera, fed by a plain pad push, on a shared worker thread.**
//!   `feed pad → h264parse/h265parse → avdec_h26x (1 thread) → [pacer probe] → videoconvert
//!   (passthrough for I420/NV12) → appsink`. The feed pad is a free-standing source pad, the way GStreamer's
//!   own unit tests feed elements, instead of an `appsrc`: `appsrc` would give every camera its
//!   own streaming thread and a queue hop per frame. With a pad push the worker thread that owns
//!   the camera runs the whole chain synchronously, and the appsink callback fires on that same
//!   thread before `push` returns. So a pool of N workers uses N threads for any number of
//!   cameras, and parallelism comes from cameras, not from libav's frame threads
//!   (`max-threads=1` also avoids libav's frame-threading delay).
//! - **The decoder's own pictures, not BGR at the model's size.** The stage emits the decoded
//!   YUV buffer as it is (mapped, shared, not copied); the detector's pre-processor resizes and
//!   converts it into its input tensor in the pass that normalises it anyway. `videoscale`
//!   and `videoconvert` to 416×416 BGR here cost as much again as decoding a 360p keyframe
//!   (keyframe stage at 0.61× the raw decoder) and wrote a picture only to be read once more.
//!   [`OutputSize::Fixed`] still scales in the pipeline (in YUV) for deployments that would
//!   rather not queue full-size pictures (4K cameras: 12 MB each).
//! - **Hardware decode when present.** [`Accel::Auto`] uses `nvh264dec`/`nvh265dec` when the
//!   plugin is installed (NV12 in system memory, which the pre-processor reads directly),
//!   else `avdec_h264`/`avdec_h265`.
//! - **Bounded everywhere.** Each camera's decoder input holds at most a few dozen encoded
//!   frames (beyond that the session drops and waits for the next keyframe); the output goes to
//!   the analyzer's bounded queue with `try_send`: when full, the newest frame is dropped and
//!   counted (`reason="queue_full"`). The decoder never blocks on the analyzer.
//! - **Corrupt input is survivable.** libav conceals damaged slices (`output-corrupt` stays on);
//!   a pipeline that errors out is rebuilt and resumes at the next keyframe; counters record it.

pub(crate) mod convert;
mod file;
mod pipeline;
mod pool;

use std::sync::OnceLock;

pub use file::{FileDecodeOptions, FileDecoder, FileFrame};
pub use pipeline::StreamDecoder;
pub use pool::{DecodePool, DecoderInput, EncodedUnit, UnitInput, UnitSink};

use gstreamer as gst;

/// Video codecs the live decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// From an SDP encoding name (`H264`, `h265`, …); `None` for anything else.
    pub fn from_encoding_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("h264") {
            Some(Codec::H264)
        } else if name.eq_ignore_ascii_case("h265") {
            Some(Codec::H265)
        } else {
            None
        }
    }

    /// The caps of an Annex B access-unit stream of this codec (what `appsrc` is fed).
    pub fn caps(self) -> gst::Caps {
        let media = match self {
            Codec::H264 => "video/x-h264",
            Codec::H265 => "video/x-h265",
        };
        gst::Caps::builder(media)
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build()
    }

    /// The GStreamer parser element for this codec.
    pub fn parser(self) -> &'static str {
        match self {
            Codec::H264 => "h264parse",
            Codec::H265 => "h265parse",
        }
    }

    fn software_decoder(self) -> &'static str {
        match self {
            Codec::H264 => "avdec_h264",
            Codec::H265 => "avdec_h265",
        }
    }

    fn nvidia_decoder(self) -> &'static str {
        match self {
            Codec::H264 => "nvh264dec",
            Codec::H265 => "nvh265dec",
        }
    }
}

/// Size of the pictures a decoder emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputSize {
    /// The stream's own resolution (no scaling): the default.
    Source,
    /// Stretched to exactly this size in the pipeline (in YUV, before the appsink).
    Fixed { width: u32, height: u32 },
}

/// Which decoder element family to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accel {
    /// NVIDIA's `nvh26xdec` if the plugin is installed, else libav on the CPU.
    #[default]
    Auto,
    /// Always libav (`avdec_h264`/`avdec_h265`).
    Cpu,
}

/// How a camera's frames are decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderOptions {
    pub output: OutputSize,
    /// Keep a reference to the full-size decoded picture in [`crate::Frame::source`] (no copy,
    /// no conversion; with [`OutputSize::Source`] it is the emitted picture itself, so free;
    /// when the pipeline scales it pins the full-size buffer while the frame is queued).
    /// Default on: evidence snapshots want the full picture.
    pub keep_source: bool,
    pub accel: Accel,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            output: OutputSize::Source,
            keep_source: true,
            accel: Accel::Auto,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("GStreamer failed to initialise: {0}")]
    Init(String),
    #[error(
        "GStreamer element `{element}` is not installed; install Debian's {package} \
         (gstreamer1.0-plugins-{{base,good,bad}} and gstreamer1.0-libav cover all of ingest)"
    )]
    MissingElement {
        element: &'static str,
        package: &'static str,
    },
    #[error("camera {camera}: decoder pipeline: {what}")]
    Pipeline { camera: String, what: String },
    #[error("{path}: {what}")]
    File { path: String, what: String },
    #[error("picture conversion failed: {0}")]
    Convert(String),
}

/// Initialises GStreamer once per process; later calls return the first result.
pub fn init() -> Result<(), DecodeError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(DecodeError::Init)
}

/// The decoder element [`Accel`] resolves to for `codec` on this machine.
pub fn decoder_element(codec: Codec, accel: Accel) -> &'static str {
    if accel == Accel::Auto && gst::ElementFactory::find(codec.nvidia_decoder()).is_some() {
        codec.nvidia_decoder()
    } else {
        codec.software_decoder()
    }
}

pub fn make(element: &'static str) -> Result<gst::Element, DecodeError> {
    gst::ElementFactory::make(element)
        .build()
        .map_err(|_| DecodeError::MissingElement {
            element,
            package: package_of(element),
        })
}

fn package_of(element: &str) -> &'static str {
    match element {
        "avdec_h264" | "avdec_h265" => "gstreamer1.0-libav",
        "h264parse" | "h265parse" | "nvh264dec" | "nvh265dec" => "gstreamer1.0-plugins-bad",
        _ => "gstreamer1.0-plugins-base",
    }
}
