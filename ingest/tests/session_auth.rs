//! Credentials over real RTSP (camsim with Digest and Basic auth): wrong or missing ones give
//! `auth_failed`, right ones stream, and no password reaches a log line. In its own test
//! binary because it installs a log-capturing subscriber: with other tests running in the same
//! process, tracing's per-callsite interest cache can race with a thread-local subscriber and
//! lose events, which would make the "was it logged" half of the test flaky.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use xueliang_core::CameraId;
use xueliang_core::config::{CameraConfig, Credentials, Sampling, Secret};
use xueliang_core::shutdown::Shutdown;
use xueliang_ingest::bench::camera_config;
use xueliang_ingest::camsim::{self, Auth, AuthScheme, CamsimHandle, CamsimOptions, ClipPreset};
use xueliang_ingest::decode::DecoderOptions;
use xueliang_ingest::frame::Frame;
use xueliang_ingest::session::SessionTuning;
use xueliang_ingest::{CameraState, Ingest, IngestHandle, IngestOptions};

fn vtest() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        camsim::ensure_clip(ClipPreset::Vtest, &camsim::default_cache_dir())
            .expect("encode vtest (needs ffmpeg and opencv-doc)")
    })
    .clone()
}

async fn sim(cameras: usize, tweak: impl FnOnce(&mut CamsimOptions)) -> CamsimHandle {
    let clip = tokio::task::spawn_blocking(vtest).await.unwrap();
    let mut o = CamsimOptions::new(cameras, clip);
    tweak(&mut o);
    camsim::start(o).await.expect("camsim starts")
}

fn fast() -> IngestOptions {
    IngestOptions {
        decoder_workers: 1,
        decoder: DecoderOptions::default(),
        decoder_queue_per_camera: 32,
        session: SessionTuning {
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            ..SessionTuning::default()
        },
    }
}

fn cam(sim: &CamsimHandle, i: usize, sampling: Sampling) -> CameraConfig {
    camera_config(&format!("cam-{i}"), &sim.url(i), sampling)
}

fn id(s: &str) -> CameraId {
    CameraId::new(s).unwrap()
}

fn start(
    opts: IngestOptions,
    cameras: Vec<CameraConfig>,
) -> (IngestHandle, mpsc::Receiver<Frame>, Shutdown) {
    let (tx, rx) = mpsc::channel(256);
    let shutdown = Shutdown::new();
    let h = Ingest::start_with(opts, cameras, tx, shutdown.clone()).expect("ingest starts");
    (h, rx, shutdown)
}

async fn collect(rx: &mut mpsc::Receiver<Frame>, for_: Duration) -> Vec<Frame> {
    let deadline = tokio::time::Instant::now() + for_;
    let mut out = vec![];
    while let Ok(Some(f)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        out.push(f);
    }
    out
}

async fn wait_state(h: &IngestHandle, camera: &str, state: CameraState, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let s = h.status(&id(camera));
        if s.as_ref().is_some_and(|s| s.state == state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{camera} not {state} within {limit:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn wrong_credentials_give_auth_failed_and_no_password_is_logged() {
    const RIGHT: &str = "Right-Pa55word-7";
    const WRONG: &str = "Wr0ng-Secret-42";
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A current-thread runtime keeps every session task on this thread, under the subscriber.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let auth = |scheme| {
            move |o: &mut CamsimOptions| {
                o.auth = Some(Auth {
                    username: "admin".into(),
                    password: RIGHT.into(),
                    scheme,
                })
            }
        };
        let digest = sim(2, auth(AuthScheme::Digest)).await;
        let basic = sim(1, auth(AuthScheme::Basic)).await;
        let with = |c: CameraConfig, user: &str, pass: &str| CameraConfig {
            credentials: Some(Credentials {
                username: user.into(),
                password: Secret::new(pass),
            }),
            ..c
        };
        let wrong = with(cam(&digest, 0, Sampling::Keyframes), "admin", WRONG);
        let right = with(cam(&digest, 1, Sampling::Keyframes), "admin", RIGHT);
        let basic_right = CameraConfig {
            id: id("basic-1"),
            ..with(cam(&basic, 0, Sampling::Keyframes), "admin", RIGHT)
        };
        let none = CameraConfig {
            id: id("nocreds"),
            ..cam(&digest, 0, Sampling::Keyframes)
        };
        let (h, mut rx, _s) = start(fast(), vec![wrong, right, basic_right, none]);
        wait_state(&h, "cam-0", CameraState::AuthFailed, Duration::from_secs(5)).await;
        wait_state(
            &h,
            "nocreds",
            CameraState::AuthFailed,
            Duration::from_secs(5),
        )
        .await;
        wait_state(&h, "cam-1", CameraState::Streaming, Duration::from_secs(5)).await;
        wait_state(
            &h,
            "basic-1",
            CameraState::Streaming,
            Duration::from_secs(5),
        )
        .await;
        let frames = collect(&mut rx, Duration::from_secs(1)).await;
        assert!(frames.iter().any(|f| f.camera.as_str() == "cam-1"));
        assert!(frames.iter().any(|f| f.camera.as_str() == "basic-1"));
        assert!(!frames.iter().any(|f| f.camera.as_str() == "cam-0"));
        // Let a few retries with backoff happen (and log).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let st = h.status(&id("cam-0")).unwrap();
        assert!(st.reason.as_deref().unwrap().contains("401"), "{st:?}");
        let st = h.status(&id("nocreds")).unwrap();
        assert!(
            st.reason
                .as_deref()
                .unwrap()
                .contains("none are configured"),
            "{st:?}"
        );
        let statuses = serde_json::to_string(&h.states()).unwrap();
        assert!(!statuses.contains(WRONG) && !statuses.contains(RIGHT));
        h.stop().await;
    });
    let text = logs.text();
    if std::env::var_os("DUMP_LOGS").is_some() {
        eprintln!("{text}");
    }
    assert!(
        text.contains("auth_failed") && text.contains(&digest_url_hint(&text)),
        "the failure was logged: {text}"
    );
    assert!(text.contains("camera streaming"), "{text}");
    for (n, line) in text.lines().enumerate() {
        assert!(
            !line.contains(WRONG) && !line.contains(RIGHT),
            "log line {n} leaks a password: {line}"
        );
    }
}

/// The logged URL of the failing camera (port differs per run).
fn digest_url_hint(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("auth_failed"))
        .and_then(|l| l.split("url=").nth(1))
        .map(|u| u.split_whitespace().next().unwrap_or("").to_string())
        .filter(|u| u.starts_with("rtsp://127.0.0.1:") && u.ends_with("/cam/0"))
        .unwrap_or_else(|| "<no url= field with the camera's rtsp URL>".into())
}

#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> CapturedLogs {
        self.clone()
    }
}
