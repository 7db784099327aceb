//! Credentials over real RTSP (camsim with Digest and Basic auth): wrong or missing ones give
//! `auth_failed`, right ones stream, and no password reaches a log line. In its own test
//! binary because it installs a log-capturing subscriber: with other tests running in the same
//! process, tracing's per-callsite interest cache can race with a thread-local subscriber and
//! lose events, which would make the "was it logged" half of the test flaky.

use std::time::Duration;

use xueliang_camsim::{Auth, AuthScheme, CamsimOptions};
use xueliang_core::config::{CameraConfig, Credentials, Sampling, Secret};
use xueliang_ingest::CameraState;

mod support;
use support::*;

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
