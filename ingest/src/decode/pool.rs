//! The decoder pool: a fixed set of worker threads, each owning the pipelines of the cameras
//! assigned to it, fed through per-camera bounded inputs.
//!
//! - A camera goes to the worker with the fewest cameras when its session opens, and stays
//!   there until the session ends (one pipeline per RTSP session: a reconnect starts clean).
//! - The channel to a worker carries control messages (open, close, stop) as well as data, so
//!   it is unbounded; the data bound is per camera ([`DecoderInput::try_push`] refuses once
//!   `per_camera_queue` units wait), which keeps one busy camera from starving the others.
//! - A pipeline that fails is dropped and rebuilt at the camera's next keyframe.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use xueliang_core::CameraId;
use xueliang_core::config::Sampling;

use super::{Codec, DecodeError, DecoderOptions, StreamDecoder};
use crate::frame::{CaptureClock, Frame};
use crate::stats::{CameraCounters, DropReason};

/// One encoded access unit (a picture) as received, Annex B framed with parameter sets in-band
/// on keyframes (retina's `FrameFormat::SIMPLE`).
#[derive(Debug, Clone)]
pub struct EncodedUnit {
    pub data: Vec<u8>,
    /// Stream time of the picture (RTP timestamp since the session start).
    pub pts: Duration,
    /// A random-access point (IDR / IRAP).
    pub keyframe: bool,
    pub received_at: Instant,
    pub captured_at: DateTime<Utc>,
    pub capture_clock: CaptureClock,
}

/// Where a camera session sends encoded frames: the [`DecodePool`], or a stand-in (tests,
/// the receive benchmark).
pub trait UnitSink: Send + Sync + 'static {
    fn open(
        &self,
        camera: &CameraId,
        codec: Codec,
        sampling: Sampling,
        counters: Arc<CameraCounters>,
    ) -> Box<dyn UnitInput>;
}

/// One session's input to its decoder. Dropping it closes the decoder.
pub trait UnitInput: Send {
    /// Hands over a unit, or gives it back when the camera's input is full.
    fn try_push(&mut self, unit: EncodedUnit) -> Result<(), EncodedUnit>;
}

enum Job {
    Open {
        id: u64,
        camera: CameraId,
        codec: Codec,
        sampling: Sampling,
        counters: Arc<CameraCounters>,
        queued: Arc<AtomicUsize>,
    },
    Unit {
        id: u64,
        unit: EncodedUnit,
    },
    Close {
        id: u64,
    },
    Stop,
}

struct WorkerSlot {
    tx: Mutex<std_mpsc::Sender<Job>>,
    cameras: AtomicUsize,
}

struct PoolInner {
    workers: Vec<WorkerSlot>,
    next_id: AtomicU64,
    per_camera_queue: usize,
}

/// A fixed pool of decoder threads. Dropping it stops and joins them.
pub struct DecodePool {
    inner: Arc<PoolInner>,
    threads: Vec<JoinHandle<()>>,
}

impl DecodePool {
    /// `workers` threads (0 = one per CPU core) decoding with `opts`, sending frames to
    /// `frames`; each camera may have `per_camera_queue` encoded frames waiting.
    pub fn new(
        workers: usize,
        opts: DecoderOptions,
        per_camera_queue: usize,
        frames: mpsc::Sender<Frame>,
    ) -> Result<DecodePool, DecodeError> {
        super::init()?;
        let n = if workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            workers
        };
        let mut slots = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = std_mpsc::channel();
            let opts = opts.clone();
            let frames = frames.clone();
            let thread = std::thread::Builder::new()
                .name(format!("xl-decode-{i}"))
                .spawn(move || worker(rx, opts, frames))
                .map_err(|e| DecodeError::Init(format!("cannot start decoder thread: {e}")))?;
            slots.push(WorkerSlot {
                tx: Mutex::new(tx),
                cameras: AtomicUsize::new(0),
            });
            threads.push(thread);
        }
        Ok(DecodePool {
            inner: Arc::new(PoolInner {
                workers: slots,
                next_id: AtomicU64::new(1),
                per_camera_queue: per_camera_queue.max(1),
            }),
            threads,
        })
    }

    pub fn workers(&self) -> usize {
        self.inner.workers.len()
    }

    /// Opens a decoder for a new session of `camera` on the least-loaded worker.
    pub fn open_input(
        &self,
        camera: &CameraId,
        codec: Codec,
        sampling: Sampling,
        counters: Arc<CameraCounters>,
    ) -> DecoderInput {
        let inner = &self.inner;
        let worker = (0..inner.workers.len())
            .min_by_key(|&i| inner.workers[i].cameras.load(Ordering::Relaxed))
            .unwrap_or(0);
        inner.workers[worker]
            .cameras
            .fetch_add(1, Ordering::Relaxed);
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let input = DecoderInput {
            id,
            worker,
            inner: inner.clone(),
            queued: Arc::new(AtomicUsize::new(0)),
        };
        input.send(Job::Open {
            id,
            camera: camera.clone(),
            codec,
            sampling,
            counters,
            queued: input.queued.clone(),
        });
        input
    }
}

impl UnitSink for DecodePool {
    fn open(
        &self,
        camera: &CameraId,
        codec: Codec,
        sampling: Sampling,
        counters: Arc<CameraCounters>,
    ) -> Box<dyn UnitInput> {
        Box::new(self.open_input(camera, codec, sampling, counters))
    }
}

impl Drop for DecodePool {
    fn drop(&mut self) {
        for w in &self.inner.workers {
            let _ = w.tx.lock().map(|tx| tx.send(Job::Stop));
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A session's handle on its decoder (see [`UnitInput`]).
pub struct DecoderInput {
    id: u64,
    worker: usize,
    inner: Arc<PoolInner>,
    queued: Arc<AtomicUsize>,
}

impl DecoderInput {
    fn send(&self, job: Job) -> bool {
        // Poisoning needs a panic while holding the lock around a channel send: impossible.
        self.inner.workers[self.worker]
            .tx
            .lock()
            .map(|tx| tx.send(job).is_ok())
            .unwrap_or(false)
    }
}

impl UnitInput for DecoderInput {
    fn try_push(&mut self, unit: EncodedUnit) -> Result<(), EncodedUnit> {
        if self.queued.load(Ordering::Acquire) >= self.inner.per_camera_queue {
            return Err(unit);
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        if !self.send(Job::Unit { id: self.id, unit }) {
            // The pool has stopped (shutdown): nothing will decode it anyway.
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }
}

impl Drop for DecoderInput {
    fn drop(&mut self) {
        self.send(Job::Close { id: self.id });
        self.inner.workers[self.worker]
            .cameras
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// A camera's decoder on a worker, with what is needed to rebuild it.
struct Slot {
    decoder: Option<StreamDecoder>,
    camera: CameraId,
    codec: Codec,
    sampling: Sampling,
    counters: Arc<CameraCounters>,
    queued: Arc<AtomicUsize>,
    need_keyframe: bool,
    last_attempt: Option<Instant>,
}

/// A failed pipeline is rebuilt at most this often (a missing plugin fails every time).
const REBUILD_EVERY: Duration = Duration::from_secs(5);

fn worker(rx: std_mpsc::Receiver<Job>, opts: DecoderOptions, frames: mpsc::Sender<Frame>) {
    let mut slots: HashMap<u64, Slot> = HashMap::new();
    for job in rx.iter() {
        match job {
            Job::Open {
                id,
                camera,
                codec,
                sampling,
                counters,
                queued,
            } => {
                let mut slot = Slot {
                    decoder: None,
                    camera,
                    codec,
                    sampling,
                    counters,
                    queued,
                    need_keyframe: true,
                    last_attempt: None,
                };
                build(&mut slot, &opts, &frames);
                slots.insert(id, slot);
            }
            Job::Unit { id, unit } => {
                if let Some(slot) = slots.get_mut(&id) {
                    slot.queued.fetch_sub(1, Ordering::AcqRel);
                    decode(slot, unit, &opts, &frames);
                }
            }
            Job::Close { id } => {
                slots.remove(&id);
            }
            Job::Stop => break,
        }
    }
}

fn build(slot: &mut Slot, opts: &DecoderOptions, frames: &mpsc::Sender<Frame>) {
    slot.last_attempt = Some(Instant::now());
    match StreamDecoder::new(
        &slot.camera,
        slot.codec,
        slot.sampling,
        opts,
        slot.counters.clone(),
        frames.clone(),
    ) {
        Ok(d) => slot.decoder = Some(d),
        Err(e) => {
            // Data loss until an operator installs the plugin or the stream changes.
            tracing::error!(camera = %slot.camera, error = %e, "cannot start the decoder");
            slot.decoder = None;
        }
    }
}

fn decode(slot: &mut Slot, unit: EncodedUnit, opts: &DecoderOptions, frames: &mpsc::Sender<Frame>) {
    if slot.need_keyframe && !unit.keyframe {
        slot.counters.dropped(DropReason::WaitingKeyframe);
        return;
    }
    if slot.decoder.is_none() {
        if slot
            .last_attempt
            .is_some_and(|t| t.elapsed() < REBUILD_EVERY)
        {
            slot.counters.dropped(DropReason::WaitingKeyframe);
            return;
        }
        build(slot, opts, frames);
    }
    let Some(decoder) = slot.decoder.as_mut() else {
        slot.counters.dropped(DropReason::WaitingKeyframe);
        return;
    };
    slot.need_keyframe = false;
    if let Err(e) = decoder.push(unit) {
        tracing::warn!(camera = %slot.camera, error = %e, "decoder failed; rebuilding at the next keyframe");
        slot.decoder = None;
        slot.need_keyframe = true;
        slot.last_attempt = None;
    }
}
