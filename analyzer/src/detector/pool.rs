//! [`DetectorPool`]: dynamic batching across cameras on dedicated inference threads.
//!
//! Design decisions:
//! - **One bounded queue, many producers.** Every camera submits to the same queue through a
//!   cloneable [`Submitter`]. When the queue is full, [`Submitter::try_submit`] hands the frame
//!   back at once (`SubmitError::Full`) and counts it: the live pipeline drops the newest frame
//!   rather than fall behind real time. [`Submitter::submit`] blocks instead, for offline work
//!   (analysing a file) where every frame matters.
//! - **One worker forms a batch at a time.** The queue's receiving end sits behind a mutex; the
//!   worker holding it takes the first frame (waiting as long as needed), then whatever arrives
//!   until it has `batch_max` frames or `batch_timeout` has passed since the first, and lets
//!   go. Meanwhile the other workers are running their batches. This keeps batches full under
//!   load, instead of N workers each grabbing a thin slice of the queue.
//! - **Results leave in submission order.** Frames are numbered as they leave the queue, and a
//!   small reorder buffer releases results strictly by number, so a camera's frames reach the
//!   tracker in order even when a later batch on another worker finishes first. The price is
//!   head-of-line waiting of at most one batch time.
//! - **Every frame taken from the queue produces exactly one [`Detected`]**, with detections or
//!   with the error (a bad frame fails alone; a failed `session.run` fails its batch). Nothing
//!   is silently lost, and the reorder buffer never waits for a number that will not come.
//! - **Delivery is a callback run on the worker thread** (the `sink`), so the caller chooses:
//!   `blocking_send` into a tokio channel (back-pressure: the workers stall, the queue fills,
//!   the live sources drop), a per-request reply channel carried inside the input, or a
//!   `std` channel. The sink must not submit to the same pool (it could wait on itself).
//! - **Shutdown drains.** [`DetectorPool::shutdown`] stops accepting frames, lets the workers
//!   finish what is queued, and joins them. Merely dropping the pool detaches the workers:
//!   they run until every [`Submitter`] is gone and the queue is empty, then exit.

use super::metrics as m;
use super::{DetectInput, Detector, DetectorError, DetectorOptions};
use crate::model::ResolvedModel;
use crate::types::Detection;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use xueliang_core::config::AnalyzerConfig;

/// How often an idle worker looks at the shutdown flag.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Shape of the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolOptions {
    /// Worker threads, each with its own session.
    pub workers: usize,
    /// At most this many frames per batch…
    pub batch_max: usize,
    /// …or whatever arrived within this long after the batch's first frame.
    pub batch_timeout: Duration,
    /// Frames the queue holds before `try_submit` refuses.
    pub queue_capacity: usize,
    pub detector: DetectorOptions,
}

impl PoolOptions {
    /// From `[analyzer]`; `workers = 0` becomes one per `intra_threads` CPU cores.
    pub fn from_config(c: &AnalyzerConfig, queue_capacity: usize) -> Self {
        let detector = DetectorOptions::from_config(c);
        let workers = if c.workers == 0 {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / detector.intra_threads).max(1)
        } else {
            c.workers
        };
        PoolOptions {
            workers,
            batch_max: detector.max_batch,
            batch_timeout: c.batch_timeout,
            queue_capacity: queue_capacity.max(1),
            detector,
        }
    }
}

/// One frame's result, with the input handed back.
pub struct Detected<I> {
    pub input: I,
    pub detections: Result<Vec<Detection>, Arc<DetectorError>>,
    /// Frames in the batch this one ran in.
    pub batch_size: usize,
    /// Time from submit to the start of its batch.
    pub queued: Duration,
    /// Index of the worker that ran it.
    pub worker: usize,
}

impl<I> fmt::Debug for Detected<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detected")
            .field("detections", &self.detections)
            .field("batch_size", &self.batch_size)
            .field("queued", &self.queued)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

/// Why a frame was not accepted; the frame comes back.
pub enum SubmitError<I> {
    /// The queue is full (live sources drop the frame and move on).
    Full(I),
    /// The pool is shutting down.
    Closed(I),
}

impl<I> SubmitError<I> {
    pub fn into_inner(self) -> I {
        match self {
            SubmitError::Full(i) | SubmitError::Closed(i) => i,
        }
    }
}

impl<I> fmt::Debug for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<I> fmt::Display for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("detector queue is full"),
            SubmitError::Closed(_) => f.write_str("detector pool is shut down"),
        }
    }
}

impl<I> std::error::Error for SubmitError<I> {}

struct Job<I> {
    input: I,
    enqueued: Instant,
}

/// The queue's receiving end and the number of the next frame to leave it.
struct Intake<I> {
    rx: Receiver<Job<I>>,
    next_seq: u64,
}

/// Results waiting for their turn.
struct Reorder<I> {
    next: u64,
    pending: BTreeMap<u64, Detected<I>>,
}

type Sink<I> = dyn Fn(Detected<I>) + Send + Sync;

struct Shared<I> {
    intake: Mutex<Intake<I>>,
    reorder: Mutex<Reorder<I>>,
    closed: Arc<AtomicBool>,
    sink: Box<Sink<I>>,
    batch_max: usize,
    batch_timeout: Duration,
}

/// A poisoned lock only means another worker panicked; the data is still consistent (every
/// critical section leaves it so), so carry on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A cloneable handle for submitting frames.
pub struct Submitter<I> {
    tx: SyncSender<Job<I>>,
    closed: Arc<AtomicBool>,
}

impl<I> Clone for Submitter<I> {
    fn clone(&self) -> Self {
        Submitter {
            tx: self.tx.clone(),
            closed: self.closed.clone(),
        }
    }
}

impl<I: DetectInput> Submitter<I> {
    /// Queues `input` if there is room; never blocks (live sources: drop on `Full`).
    pub fn try_submit(&self, input: I) -> Result<(), SubmitError<I>> {
        if self.closed.load(Ordering::Acquire) {
            metrics::counter!(m::DROPPED, "reason" => "closed").increment(1);
            return Err(SubmitError::Closed(input));
        }
        let job = Job {
            input,
            enqueued: Instant::now(),
        };
        match self.tx.try_send(job) {
            Ok(()) => {
                metrics::counter!(m::QUEUE_PUSHED).increment(1);
                Ok(())
            }
            Err(TrySendError::Full(j)) => {
                metrics::counter!(m::DROPPED, "reason" => "queue_full").increment(1);
                Err(SubmitError::Full(j.input))
            }
            Err(TrySendError::Disconnected(j)) => {
                metrics::counter!(m::DROPPED, "reason" => "closed").increment(1);
                Err(SubmitError::Closed(j.input))
            }
        }
    }

    /// Queues `input`, waiting for room (offline analysis, tests).
    pub fn submit(&self, input: I) -> Result<(), SubmitError<I>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SubmitError::Closed(input));
        }
        let job = Job {
            input,
            enqueued: Instant::now(),
        };
        match self.tx.send(job) {
            Ok(()) => {
                metrics::counter!(m::QUEUE_PUSHED).increment(1);
                Ok(())
            }
            Err(e) => Err(SubmitError::Closed(e.0.input)),
        }
    }
}

/// N inference threads behind one bounded queue. See the module doc.
pub struct DetectorPool<I: DetectInput> {
    shared: Arc<Shared<I>>,
    tx: SyncSender<Job<I>>,
    workers: Vec<JoinHandle<()>>,
}

impl<I: DetectInput> DetectorPool<I> {
    /// Starts `opts.workers` threads, each loading `model`, and returns once all are ready (or
    /// with the first worker's error). `sink` receives every result, in submission order.
    pub fn start<S>(
        model: &ResolvedModel,
        opts: &PoolOptions,
        sink: S,
    ) -> Result<DetectorPool<I>, DetectorError>
    where
        S: Fn(Detected<I>) + Send + Sync + 'static,
    {
        if opts.workers == 0 {
            return Err(DetectorError::Options("workers must be at least 1".into()));
        }
        let mut dopts = opts.detector.clone();
        dopts.max_batch = opts.batch_max;
        // Load the runtime here so a missing library fails once, with its own message.
        super::runtime::environment()?;
        let (tx, rx) = mpsc::sync_channel(opts.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            intake: Mutex::new(Intake { rx, next_seq: 0 }),
            reorder: Mutex::new(Reorder {
                next: 0,
                pending: BTreeMap::new(),
            }),
            closed: Arc::new(AtomicBool::new(false)),
            sink: Box::new(sink),
            batch_max: opts.batch_max.max(1),
            batch_timeout: opts.batch_timeout,
        });
        m::describe();
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut workers = Vec::with_capacity(opts.workers);
        for w in 0..opts.workers {
            let shared = shared.clone();
            let model = model.clone();
            let dopts = dopts.clone();
            let ready = ready_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("detector-{w}"))
                .spawn(move || {
                    let _span = tracing::info_span!("detector", worker = w).entered();
                    match Detector::new(&model, &dopts) {
                        Ok(det) => {
                            let _ = ready.send(Ok(()));
                            drop(ready);
                            worker_loop(w, det, &shared);
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                });
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => {
                    let _ = ready_tx.send(Err(DetectorError::Worker {
                        worker: w,
                        message: format!("cannot spawn thread: {e}"),
                    }));
                }
            }
        }
        drop(ready_tx);
        let mut first_err = None;
        for r in ready_rx.iter().take(opts.workers) {
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        let pool = DetectorPool {
            shared,
            tx,
            workers,
        };
        if let Some(e) = first_err {
            pool.shutdown();
            return Err(e);
        }
        tracing::info!(
            model = %model.spec.name,
            version = %model.spec.version,
            workers = opts.workers,
            intra_threads = dopts.intra_threads,
            batch_max = opts.batch_max,
            batch_timeout_ms = opts.batch_timeout.as_millis() as u64,
            provider = ?dopts.execution_provider,
            "detector pool started"
        );
        Ok(pool)
    }

    /// A handle for submitting frames; clone it freely (one per camera task is fine).
    pub fn submitter(&self) -> Submitter<I> {
        Submitter {
            tx: self.tx.clone(),
            closed: self.shared.closed.clone(),
        }
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Stops accepting frames, lets the workers finish every queued frame (each still reaches
    /// the sink), and joins them. Blocking: from async code, call it in `spawn_blocking`.
    pub fn shutdown(self) {
        self.shared.closed.store(true, Ordering::Release);
        let DetectorPool {
            shared,
            tx,
            workers,
        } = self;
        drop(tx);
        for h in workers {
            let _ = h.join();
        }
        // A frame that slipped in between a submitter's closed-check and the workers leaving
        // still gets its answer.
        let intake = lock(&shared.intake);
        let left: Vec<Job<I>> = intake.rx.try_iter().collect();
        drop(intake);
        for job in left {
            deliver_one(
                &shared,
                Detected {
                    input: job.input,
                    detections: Err(Arc::new(DetectorError::Worker {
                        worker: usize::MAX,
                        message: "pool shut down before the frame ran".into(),
                    })),
                    batch_size: 0,
                    queued: job.enqueued.elapsed(),
                    worker: usize::MAX,
                },
            );
        }
    }
}

/// Takes the next batch off the queue; `None` when the pool is closed and drained.
fn gather<I>(shared: &Shared<I>) -> Option<(u64, Vec<Job<I>>)> {
    let mut intake = lock(&shared.intake);
    let first = loop {
        match intake.rx.recv_timeout(IDLE_POLL) {
            Ok(j) => break j,
            Err(RecvTimeoutError::Timeout) if !shared.closed.load(Ordering::Acquire) => {}
            Err(_) => return None,
        }
    };
    let mut batch = Vec::with_capacity(shared.batch_max);
    batch.push(first);
    let deadline = Instant::now() + shared.batch_timeout;
    while batch.len() < shared.batch_max {
        match intake.rx.try_recv() {
            Ok(j) => {
                batch.push(j);
                continue;
            }
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {}
        }
        let now = Instant::now();
        if now >= deadline || shared.closed.load(Ordering::Acquire) {
            break;
        }
        match intake.rx.recv_timeout(deadline - now) {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    let seq = intake.next_seq;
    intake.next_seq += batch.len() as u64;
    Some((seq, batch))
}

fn worker_loop<I: DetectInput>(worker: usize, mut det: Detector, shared: &Shared<I>) {
    while let Some((seq, batch)) = gather(shared) {
        let n = batch.len();
        let started = Instant::now();
        metrics::counter!(m::QUEUE_POPPED).increment(n as u64);
        metrics::histogram!(m::BATCH_SIZE).record(n as f64);
        for j in &batch {
            metrics::histogram!(m::QUEUE_WAIT_SECONDS)
                .record(started.duration_since(j.enqueued).as_secs_f64());
        }
        let results = run_batch(worker, &mut det, &batch);
        let t = det.last_times();
        metrics::histogram!(m::BATCH_SECONDS, "step" => "preprocess")
            .record(t.preprocess.as_secs_f64());
        metrics::histogram!(m::BATCH_SECONDS, "step" => "inference")
            .record(t.inference.as_secs_f64());
        metrics::histogram!(m::BATCH_SECONDS, "step" => "postprocess")
            .record(t.postprocess.as_secs_f64());
        let ok = results.iter().filter(|r| r.is_ok()).count() as u64;
        metrics::counter!(m::FRAMES, "result" => "ok").increment(ok);
        metrics::counter!(m::FRAMES, "result" => "error").increment(n as u64 - ok);
        let detected = batch
            .into_iter()
            .zip(results)
            .map(|(job, detections)| Detected {
                queued: started.duration_since(job.enqueued),
                input: job.input,
                detections,
                batch_size: n,
                worker,
            })
            .collect();
        deliver(shared, seq, detected);
    }
    tracing::debug!(worker, "detector worker finished");
}

type FrameResult = Result<Vec<Detection>, Arc<DetectorError>>;

/// Runs one batch: bad frames fail alone, the rest run together.
fn run_batch<I: DetectInput>(
    worker: usize,
    det: &mut Detector,
    batch: &[Job<I>],
) -> Vec<FrameResult> {
    let mut results: Vec<Option<FrameResult>> = (0..batch.len()).map(|_| None).collect();
    let mut good = Vec::with_capacity(batch.len());
    let mut frames = Vec::with_capacity(batch.len());
    for (i, job) in batch.iter().enumerate() {
        let f = job.input.frame();
        match f.check() {
            Ok(()) => {
                good.push(i);
                frames.push(f);
            }
            Err(source) => {
                results[i] = Some(Err(Arc::new(DetectorError::Frame { index: i, source })));
            }
        }
    }
    if !frames.is_empty() {
        let run =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| det.detect_batch(&frames)));
        match run {
            Ok(Ok(dets)) => {
                for (i, d) in good.iter().zip(dets) {
                    results[*i] = Some(Ok(d));
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(worker, batch = frames.len(), error = %e, "detector batch failed");
                let e = Arc::new(e);
                for &i in &good {
                    results[i] = Some(Err(e.clone()));
                }
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                tracing::error!(worker, %message, "detector panicked on a batch");
                let e = Arc::new(DetectorError::Worker { worker, message });
                for &i in &good {
                    results[i] = Some(Err(e.clone()));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every frame of the batch has a result"))
        .collect()
}

/// Hands results to the sink strictly in sequence order.
fn deliver<I>(shared: &Shared<I>, seq: u64, results: Vec<Detected<I>>) {
    let mut r = lock(&shared.reorder);
    for (k, d) in results.into_iter().enumerate() {
        r.pending.insert(seq + k as u64, d);
    }
    loop {
        let next = r.next;
        let Some(d) = r.pending.remove(&next) else {
            break;
        };
        r.next += 1;
        (shared.sink)(d);
    }
}

/// Delivers a result that has no sequence number (after the workers are gone).
fn deliver_one<I>(shared: &Shared<I>, d: Detected<I>) {
    let _r = lock(&shared.reorder);
    (shared.sink)(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_with_log() -> (Arc<Shared<u32>>, Arc<Mutex<Vec<u32>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let (_tx, rx) = mpsc::sync_channel(1);
        let shared = Arc::new(Shared {
            intake: Mutex::new(Intake { rx, next_seq: 0 }),
            reorder: Mutex::new(Reorder {
                next: 0,
                pending: BTreeMap::new(),
            }),
            closed: Arc::new(AtomicBool::new(false)),
            sink: Box::new(move |d: Detected<u32>| l.lock().unwrap().push(d.input)),
            batch_max: 4,
            batch_timeout: Duration::ZERO,
        });
        (shared, log)
    }

    fn results(tags: &[u32]) -> Vec<Detected<u32>> {
        tags.iter()
            .map(|&t| Detected {
                input: t,
                detections: Ok(vec![]),
                batch_size: tags.len(),
                queued: Duration::ZERO,
                worker: 0,
            })
            .collect()
    }

    #[test]
    fn a_later_batch_waits_for_the_earlier_one() {
        let (shared, log) = shared_with_log();
        deliver(&shared, 3, results(&[3, 4]));
        assert!(
            log.lock().unwrap().is_empty(),
            "released before frames 0..3"
        );
        deliver(&shared, 0, results(&[0, 1, 2]));
        assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
        deliver(&shared, 5, results(&[5]));
        assert_eq!(log.lock().unwrap().len(), 6);
    }

    #[test]
    fn gather_takes_what_is_queued_up_to_batch_max_and_numbers_it() {
        let (tx, rx) = mpsc::sync_channel(16);
        let shared = Shared::<u32> {
            intake: Mutex::new(Intake { rx, next_seq: 0 }),
            reorder: Mutex::new(Reorder {
                next: 0,
                pending: BTreeMap::new(),
            }),
            closed: Arc::new(AtomicBool::new(false)),
            sink: Box::new(|_| {}),
            batch_max: 4,
            batch_timeout: Duration::from_millis(5),
        };
        for i in 0..6 {
            tx.send(Job {
                input: i,
                enqueued: Instant::now(),
            })
            .unwrap();
        }
        let (seq, b) = gather(&shared).unwrap();
        assert_eq!((seq, b.len()), (0, 4));
        // Two left: the batch closes after the timeout with what it has.
        let (seq, b) = gather(&shared).unwrap();
        assert_eq!((seq, b.len()), (4, 2));
        assert_eq!(b[1].input, 5);
        // Closed and empty: the worker stops.
        shared.closed.store(true, Ordering::Release);
        assert!(gather(&shared).is_none());
    }
}
