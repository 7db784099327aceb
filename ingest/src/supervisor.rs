//! The running set of cameras: starts a session task per camera, applies inventory reloads
//! without a restart, reports states and counters, and shuts everything down in order.
//! The edge calls [`IngestHandle::reload`] on SIGHUP (single node) and whenever the cluster
//! assigns it a different set of cameras.
//!
//! Design decisions:
//! - **Reload is a diff by camera id.** New ids start, missing ids stop, and an id whose
//!   config changed in any way (URL, credentials, transport, sampling, …) is restarted alone;
//!   every other camera's session is untouched. A restarted camera keeps its counters, so its
//!   frame `seq` stays monotonic.
//! - **Shutdown drains downstream.** On the shutdown signal (or [`IngestHandle::stop`]) every
//!   session stops, then the decoder pool is dropped on a blocking thread; the pool holds the
//!   only senders of the frame channel, so the analyzer sees the channel close once the last
//!   decoded frame is queued.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, IngestConfig};
use xueliang_core::shutdown::Shutdown;

use crate::decode::{DecodeError, DecodePool, DecoderOptions, UnitSink};
use crate::frame::Frame;
use crate::session::{CameraRuntime, CameraStatus, SessionTuning, run_camera};
use crate::stats::{CameraCounters, IngestStats};

/// Everything ingest can be tuned with. [`IngestOptions::from_config`] maps `[ingest]` of
/// `xueliang.toml` and keeps defaults for the rest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Decoder threads; 0 = one per CPU core.
    pub decoder_workers: usize,
    pub decoder: DecoderOptions,
    /// Encoded frames that may wait for one camera's decoder before new ones are dropped.
    pub decoder_queue_per_camera: usize,
    pub session: SessionTuning,
}

impl IngestOptions {
    pub fn from_config(cfg: &IngestConfig) -> IngestOptions {
        IngestOptions {
            decoder_workers: cfg.decoder_workers,
            decoder: DecoderOptions::default(),
            decoder_queue_per_camera: 32,
            session: SessionTuning {
                backoff_initial: cfg.backoff_initial,
                backoff_max: cfg.backoff_max,
                ..SessionTuning::default()
            },
        }
    }
}

/// The bounded frame queue between ingest and the analyzer, sized by `[ingest] frame_queue`.
/// When it is full the decoder drops the newest frame and counts it (`reason="queue_full"`).
pub fn frame_channel(cfg: &IngestConfig) -> (mpsc::Sender<Frame>, mpsc::Receiver<Frame>) {
    mpsc::channel(cfg.frame_queue.get())
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadSummary {
    pub added: Vec<CameraId>,
    pub removed: Vec<CameraId>,
    pub restarted: Vec<CameraId>,
    pub unchanged: usize,
}

struct Running {
    rt: Arc<CameraRuntime>,
    task: Option<JoinHandle<()>>,
}

struct Inner {
    cameras: Mutex<BTreeMap<CameraId, Running>>,
    sink: Mutex<Option<Arc<dyn UnitSink>>>,
    tuning: Arc<SessionTuning>,
    shutdown: Shutdown,
}

/// Entry points; see [`IngestHandle`] for the running side.
pub struct Ingest;

impl Ingest {
    /// Starts a session per enabled camera and a decoder pool sending frames to `frames_tx`.
    /// Must be called inside a tokio runtime. Stops on `shutdown`.
    pub fn start(
        cfg: &IngestConfig,
        cameras: Vec<CameraConfig>,
        frames_tx: mpsc::Sender<Frame>,
        shutdown: Shutdown,
    ) -> Result<IngestHandle, DecodeError> {
        Ingest::start_with(
            IngestOptions::from_config(cfg),
            cameras,
            frames_tx,
            shutdown,
        )
    }

    pub fn start_with(
        opts: IngestOptions,
        cameras: Vec<CameraConfig>,
        frames_tx: mpsc::Sender<Frame>,
        shutdown: Shutdown,
    ) -> Result<IngestHandle, DecodeError> {
        let pool = DecodePool::new(
            opts.decoder_workers,
            opts.decoder.clone(),
            opts.decoder_queue_per_camera,
            frames_tx,
        )?;
        tracing::info!(
            workers = pool.workers(),
            output = ?opts.decoder.output,
            cameras = cameras.len(),
            "ingest starting"
        );
        Ok(Ingest::start_with_sink(
            opts.session,
            cameras,
            Arc::new(pool),
            shutdown,
        ))
    }

    /// Starts sessions that hand encoded frames to `sink` instead of the decoder pool
    /// (the receive benchmark, tests).
    pub fn start_with_sink(
        tuning: SessionTuning,
        cameras: Vec<CameraConfig>,
        sink: Arc<dyn UnitSink>,
        shutdown: Shutdown,
    ) -> IngestHandle {
        crate::stats::describe();
        let inner = Arc::new(Inner {
            cameras: Mutex::new(BTreeMap::new()),
            sink: Mutex::new(Some(sink)),
            tuning: Arc::new(tuning),
            shutdown: shutdown.clone(),
        });
        let handle = IngestHandle { inner };
        handle.reload(cameras);
        let inner = handle.inner.clone();
        tokio::spawn(async move {
            shutdown.wait().await;
            inner.stop_all().await;
        });
        handle
    }
}

/// The running ingest stage. Cheap to clone.
#[derive(Clone)]
pub struct IngestHandle {
    inner: Arc<Inner>,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<CameraId, Running>> {
        self.cameras.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sink(&self) -> Option<Arc<dyn UnitSink>> {
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn launch(&self, config: CameraConfig, counters: Arc<CameraCounters>) -> Option<Running> {
        let sink = self.sink()?;
        let rt = CameraRuntime::new(config, counters);
        let task = rt.config.enabled.then(|| {
            let span = tracing::info_span!("camera", id = %rt.config.id);
            let fut = run_camera(rt.clone(), sink, self.tuning.clone(), self.shutdown.clone());
            tokio::spawn(tracing::Instrument::instrument(fut, span))
        });
        Some(Running { rt, task })
    }

    async fn stop_all(&self) {
        let running: Vec<Running> = std::mem::take(&mut *self.lock()).into_values().collect();
        let stopped_already = self
            .sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none();
        if running.is_empty() && stopped_already {
            return;
        }
        let mut tasks = Vec::new();
        for r in running {
            r.rt.retire();
            tasks.extend(r.task);
        }
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner()).take();
        // The last reference to the decoder pool joins its threads: not on the runtime.
        if let Some(sink) = sink {
            let _ = tokio::task::spawn_blocking(move || drop(sink)).await;
        }
        tracing::info!("ingest stopped");
    }
}

impl IngestHandle {
    /// Applies a new inventory: starts new cameras, stops removed ones, restarts changed ones.
    pub fn reload(&self, cameras: Vec<CameraConfig>) -> ReloadSummary {
        let mut summary = ReloadSummary::default();
        let mut map = self.inner.lock();
        let mut wanted: BTreeMap<CameraId, CameraConfig> = BTreeMap::new();
        for c in cameras {
            if wanted.contains_key(&c.id) {
                tracing::warn!(camera = %c.id, "camera id listed twice; keeping the first");
                continue;
            }
            wanted.insert(c.id.clone(), c);
        }
        let gone: Vec<CameraId> = map
            .keys()
            .filter(|id| !wanted.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(r) = map.remove(&id) {
                r.rt.retire();
                summary.removed.push(id);
            }
        }
        for (id, config) in wanted {
            let counters = match map.get(&id) {
                Some(r) if r.rt.config == config => {
                    summary.unchanged += 1;
                    continue;
                }
                Some(r) => {
                    r.rt.retire();
                    summary.restarted.push(id.clone());
                    r.rt.counters.clone()
                }
                None => {
                    summary.added.push(id.clone());
                    CameraCounters::new(&id)
                }
            };
            if let Some(running) = self.inner.launch(config, counters) {
                map.insert(id, running);
            }
        }
        for (change, n) in [
            ("added", summary.added.len()),
            ("removed", summary.removed.len()),
            ("restarted", summary.restarted.len()),
        ] {
            metrics::counter!(crate::stats::INVENTORY_CHANGES, "change" => change)
                .increment(n as u64);
        }
        if !(summary.added.is_empty() && summary.removed.is_empty() && summary.restarted.is_empty())
        {
            tracing::info!(
                added = summary.added.len(),
                removed = summary.removed.len(),
                restarted = summary.restarted.len(),
                unchanged = summary.unchanged,
                "camera inventory applied"
            );
        }
        summary
    }

    /// Every camera's state, ordered by id.
    pub fn states(&self) -> Vec<CameraStatus> {
        self.inner.lock().values().map(|r| r.rt.status()).collect()
    }

    pub fn status(&self, id: &CameraId) -> Option<CameraStatus> {
        self.inner.lock().get(id).map(|r| r.rt.status())
    }

    /// Counters of every camera and their totals.
    pub fn stats(&self) -> IngestStats {
        IngestStats::from_cameras(
            self.inner
                .lock()
                .values()
                .map(|r| r.rt.counters.snapshot())
                .collect(),
        )
    }

    /// Stops every session and the decoder pool, which closes the frame channel. Does not
    /// touch the process-wide shutdown signal (that also stops ingest when triggered).
    pub async fn stop(&self) {
        self.inner.stop_all().await;
    }
}
