//! The latest status of every camera, read from the status topic by a thread of its own.
//!
//! The reader reads the whole (compacted) topic with `assign()` from its start, like the
//! cluster view: records read before it reached the end are history (`live_at` stays
//! `None`: they say what a camera was, not that anybody watches it now); records read after
//! are live. It also asks the broker for the topic's end offsets once a second: the judge
//! decides nothing about silence while the broker does not answer, because then every
//! camera is silent.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use xueliang_cluster::topics::{self, CatchUp};
use xueliang_core::CameraId;
use xueliang_core::contract::CameraStatusV1;
use xueliang_core::shutdown::Shutdown;

pub const STATUS_RECORDS: &str = "xueliang_dispatcher_status_records_total";
pub const STATUS_REACHABLE: &str = "xueliang_dispatcher_status_topic_reachable";

/// One camera's latest status.
#[derive(Debug, Clone)]
pub struct Entry {
    pub status: CameraStatusV1,
    /// Its position on the topic: two dispatchers that read the same topic agree on it.
    pub offset: i64,
    /// When this dispatcher read it, if it was read live (after the catch-up).
    pub live_at: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct BoardState {
    pub entries: HashMap<CameraId, Entry>,
    /// When the reader reached the end of the topic for the first time.
    pub caught_up_at: Option<Instant>,
    /// Since when the broker has answered every probe (`None`: it does not answer now).
    pub reachable_since: Option<Instant>,
}

impl BoardState {
    /// Applies one record read from the topic; `Err` with the reason for an invalid one.
    pub fn apply(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
        offset: i64,
        live_at: Option<Instant>,
    ) -> Result<(), String> {
        let Some(value) = value else {
            if let Ok(id) = CameraId::new(key) {
                self.entries.remove(&id);
            }
            return Ok(());
        };
        let status = CameraStatusV1::from_record(key, value).map_err(|e| e.to_string())?;
        let camera = status.camera_id.clone();
        self.entries.insert(
            camera,
            Entry {
                status,
                offset,
                live_at,
            },
        );
        Ok(())
    }
}

/// The board shared by the reader thread, the judge and the desk API.
#[derive(Clone, Default)]
pub struct Board(Arc<Mutex<BoardState>>);

impl Board {
    pub fn lock(&self) -> MutexGuard<'_, BoardState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest status of `camera`, if any edge ever reported it.
    pub fn get(&self, camera: &CameraId) -> Option<Entry> {
        self.lock().entries.get(camera).cloned()
    }
}

/// Starts the reader thread; it ends at shutdown.
pub fn start_reader(
    brokers: &str,
    topic: &str,
    board: Board,
    shutdown: Shutdown,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let consumer = topics::reader(brokers, "camera-status")?;
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    Ok(std::thread::Builder::new()
        .name("camera-status-reader".into())
        .spawn(move || read_loop(&consumer, &brokers, &topic, &board, &shutdown))?)
}

fn read_loop(
    consumer: &BaseConsumer,
    brokers: &str,
    topic: &str,
    board: &Board,
    shutdown: &Shutdown,
) {
    let mut catch_up: Option<CatchUp> = None;
    let mut next_probe = Instant::now();
    while !shutdown.is_triggered() {
        let Some(cu) = catch_up.as_mut() else {
            match topics::assign_compacted(consumer, brokers, topic) {
                Ok(cu) => catch_up = Some(cu),
                Err(e) => {
                    tracing::warn!(topic, error = %format!("{e:#}"), "cannot read the camera-status topic yet; retrying");
                    board.lock().reachable_since = None;
                    metrics::gauge!(STATUS_REACHABLE).set(0.0);
                    sleep_unless(shutdown, Duration::from_secs(1));
                }
            }
            continue;
        };
        if Instant::now() >= next_probe {
            next_probe = Instant::now() + Duration::from_secs(1);
            let ok = consumer
                .fetch_watermarks(topic, 0, Duration::from_secs(2))
                .is_ok();
            let mut b = board.lock();
            match (ok, b.reachable_since) {
                (true, None) => b.reachable_since = Some(Instant::now()),
                (false, Some(_)) => {
                    tracing::warn!(
                        topic,
                        "the broker does not answer; not judging camera silence until it does"
                    );
                    b.reachable_since = None;
                }
                _ => {}
            }
            metrics::gauge!(STATUS_REACHABLE).set(if ok { 1.0 } else { 0.0 });
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                cu.read(topic, m.partition(), m.offset());
                let live = cu.done().then(Instant::now);
                let key = m
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                let outcome = board.lock().apply(&key, m.payload(), m.offset(), live);
                match outcome {
                    Ok(()) => metrics::counter!(STATUS_RECORDS, "outcome" => "valid").increment(1),
                    Err(reason) => {
                        metrics::counter!(STATUS_RECORDS, "outcome" => "invalid").increment(1);
                        tracing::error!(
                            topic,
                            partition = m.partition(),
                            offset = m.offset(),
                            key,
                            reason,
                            "invalid camera-status record skipped"
                        );
                    }
                }
            }
            Some(Err(e)) => {
                tracing::debug!(topic, error = %e, "camera-status read error; retrying")
            }
            None => {
                cu.idle(consumer);
                if cu.done() {
                    let mut b = board.lock();
                    if b.caught_up_at.is_none() {
                        b.caught_up_at = Some(Instant::now());
                        tracing::info!(
                            topic,
                            cameras = b.entries.len(),
                            "camera status read to the end"
                        );
                    }
                }
            }
        }
    }
}

fn sleep_unless(shutdown: &Shutdown, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !shutdown.is_triggered() {
        std::thread::sleep(Duration::from_millis(50));
    }
}
