//! [`SqlStore`]: the [`Store`] implementation shared by both databases. Each call becomes a
//! job for the one thread that owns the connection; the job runs an `engine` function inside
//! one transaction.

use super::PartitionOffset;
use super::engine::{self, Action, Actor, CameraHealthRow, DeskStats, IncidentChange};
use super::engine::{IncidentFilter, NewSilence, Silence, User, UserRecord};
use super::sql::{Backend, in_tx};
use super::{AlertRecord, BoxFuture, Inserted, Store, StoreError, StoreOptions, StoredAlert};
use chrono::{DateTime, Utc};
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;
use uuid::Uuid;
use xueliang_core::DeskId;
use xueliang_core::contract::{DutyLevel, IncidentV1};

/// Jobs waiting for the database thread: bounded, so a slow disk pushes back on the consumer
/// instead of growing memory.
const QUEUE: usize = 64;

type Job = Box<dyn FnOnce(&mut dyn Backend) + Send>;

/// A store over one connection on a dedicated thread. Dropping it (every clone of the `Arc`
/// holding it) stops the thread after the queued jobs.
pub struct SqlStore {
    tx: mpsc::SyncSender<Job>,
    what: String,
    shared: bool,
    opts: Arc<StoreOptions>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("what", &self.what)
            .finish()
    }
}

impl SqlStore {
    pub(super) fn spawn(backend: impl Backend, opts: StoreOptions) -> Result<SqlStore, StoreError> {
        Self::spawn_with(move || Ok(backend), opts)
    }

    /// Builds the backend on the store thread itself (a blocking driver such as `postgres`
    /// must not run on an async runtime's thread) and waits until it is ready.
    pub(super) fn spawn_with<B: Backend>(
        make: impl FnOnce() -> Result<B, StoreError> + Send + 'static,
        opts: StoreOptions,
    ) -> Result<SqlStore, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(String, bool), StoreError>>();
        std::thread::Builder::new()
            .name("alert-store".into())
            .spawn(move || {
                let mut backend = match make() {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok((backend.describe(), backend.shared())));
                while let Ok(job) = rx.recv() {
                    job(&mut backend);
                }
            })
            .map_err(|e| StoreError::Open {
                what: "the alert database".into(),
                message: format!("cannot start its thread: {e}"),
                hint: "",
            })?;
        let (what, shared) = ready_rx.recv().map_err(|_| StoreError::Closed)??;
        Ok(SqlStore {
            tx,
            what,
            shared,
            opts: Arc::new(opts),
        })
    }

    /// Runs `f` inside one transaction on the database thread.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn super::sql::Tx, &StoreOptions) -> Result<R, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<R, StoreError>> {
        let opts = self.opts.clone();
        let tx = self.tx.clone();
        Box::pin(async move {
            let (otx, orx) = oneshot::channel();
            let job: Job = Box::new(move |b: &mut dyn Backend| {
                // A dropped receiver means the caller gave up (e.g. shutdown).
                let _ = otx.send(in_tx(b, |t| f(t, &opts)));
            });
            // When the thread is behind, wait for room without blocking the runtime.
            match tx.try_send(job) {
                Ok(()) => {}
                Err(mpsc::TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
                Err(mpsc::TrySendError::Full(job)) => {
                    tokio::task::spawn_blocking(move || tx.send(job))
                        .await
                        .map_err(|_| StoreError::Closed)?
                        .map_err(|_| StoreError::Closed)?;
                }
            }
            orx.await.map_err(|_| StoreError::Closed)?
        })
    }
}

impl Store for SqlStore {
    fn insert_batch_at(
        &self,
        batch: Arc<[AlertRecord]>,
        offsets: Arc<[PartitionOffset]>,
    ) -> BoxFuture<'_, Result<Vec<Inserted>, StoreError>> {
        self.call(move |t, o| {
            let inserted = engine::alerts::insert_batch(t, &batch, o)?;
            engine::offsets::advance(t, &offsets, o.clock.now())?;
            Ok(inserted)
        })
    }

    fn consumer_offsets(
        &self,
        topic: &str,
    ) -> BoxFuture<'_, Result<std::collections::HashMap<i32, i64>, StoreError>> {
        let topic = topic.to_owned();
        self.call(move |t, _| engine::offsets::load(t, &topic))
    }

    fn shared(&self) -> bool {
        self.shared
    }

    fn alert_count(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.call(|t, _| engine::alerts::count(t))
    }

    fn get_alert(&self, id: Uuid) -> BoxFuture<'_, Result<Option<StoredAlert>, StoreError>> {
        self.call(move |t, _| engine::alerts::get(t, id))
    }

    fn alerts_for_desk(
        &self,
        desk: &DeskId,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredAlert>, StoreError>> {
        let desk = desk.clone();
        self.call(move |t, _| engine::alerts::for_desk(t, &desk, limit))
    }

    fn incident_alerts(&self, id: Uuid) -> BoxFuture<'_, Result<Vec<StoredAlert>, StoreError>> {
        self.call(move |t, _| engine::alerts::for_incident(t, id))
    }

    fn get_incident(
        &self,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Option<super::IncidentWithDesks>, StoreError>> {
        self.call(move |t, _| engine::incidents::get(t, id))
    }

    fn list_incidents(
        &self,
        filter: IncidentFilter,
    ) -> BoxFuture<'_, Result<Vec<IncidentV1>, StoreError>> {
        self.call(move |t, _| engine::incidents::list(t, &filter))
    }

    fn act(
        &self,
        id: Uuid,
        action: Action,
        actor: Actor,
    ) -> BoxFuture<'_, Result<IncidentChange, StoreError>> {
        self.call(move |t, o| engine::incidents::act(t, o, id, &action, &actor))
    }

    fn escalate_due(&self) -> BoxFuture<'_, Result<Vec<IncidentChange>, StoreError>> {
        self.call(engine::incidents::escalate_due)
    }

    fn duty_level(&self) -> BoxFuture<'_, Result<DutyLevel, StoreError>> {
        self.call(|t, _| engine::duty::get(t))
    }

    fn set_duty_level(
        &self,
        level: DutyLevel,
        actor: Actor,
    ) -> BoxFuture<'_, Result<Vec<IncidentChange>, StoreError>> {
        self.call(move |t, o| engine::duty::set(t, o, level, &actor))
    }

    fn add_silence(
        &self,
        s: NewSilence,
        actor: Actor,
    ) -> BoxFuture<'_, Result<Silence, StoreError>> {
        self.call(move |t, o| engine::silences::add(t, o, &s, &actor))
    }

    fn list_silences(&self) -> BoxFuture<'_, Result<Vec<Silence>, StoreError>> {
        self.call(engine::silences::list_active)
    }

    fn expire_silence(&self, id: Uuid, actor: Actor) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.call(move |t, o| engine::silences::expire(t, o, id, &actor))
    }

    fn desk_stats(&self) -> BoxFuture<'_, Result<Vec<DeskStats>, StoreError>> {
        self.call(engine::incidents::desk_stats)
    }

    fn camera_faults(&self) -> BoxFuture<'_, Result<Vec<CameraHealthRow>, StoreError>> {
        self.call(|t, _| engine::incidents::camera_faults(t))
    }

    fn put_user(&self, user: UserRecord, replace: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        self.call(move |t, o| engine::users::put(t, o, &user, replace))
    }

    fn get_user(&self, username: &str) -> BoxFuture<'_, Result<Option<UserRecord>, StoreError>> {
        let u = username.to_owned();
        self.call(move |t, _| engine::users::get(t, &u))
    }

    fn list_users(&self) -> BoxFuture<'_, Result<Vec<User>, StoreError>> {
        self.call(|t, _| engine::users::list(t))
    }

    fn create_session(
        &self,
        token_hash: String,
        username: String,
        csrf: String,
        expires_at: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.call(move |t, o| {
            engine::users::create_session(t, o, &token_hash, &username, &csrf, expires_at)
        })
    }

    fn session(
        &self,
        token_hash: &str,
    ) -> BoxFuture<'_, Result<Option<(User, String)>, StoreError>> {
        let h = token_hash.to_owned();
        self.call(move |t, o| engine::users::session(t, o, &h))
    }

    fn delete_session(&self, token_hash: &str) -> BoxFuture<'_, Result<(), StoreError>> {
        let h = token_hash.to_owned();
        self.call(move |t, _| engine::users::delete_session(t, &h))
    }

    fn describe(&self) -> String {
        self.what.clone()
    }
}
