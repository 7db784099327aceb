//! The desk API: login, authorisation between stations and the centre, CSRF, the lifecycle
//! actions, the live push, snapshots, the duty level, silences, and the OpenAPI document
//! against the real route table.
//!
//! Requests go to the router in memory (`Router::oneshot`) from [`PEER`]; one test serves it
//! on a real socket the way the dispatcher role does, for the live push and the client
//! address in the audit trail.

mod support;

use base64::Engine as _;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::http::{Resp, Sse, oneshot, request};
use support::{Deployment, deployment, scratch};
use xueliang_core::CameraId;
use xueliang_core::contract::{AlertV1, EventType, Severity, Snapshot};
use xueliang_core::shutdown::Shutdown;
use xueliang_dispatcher::api::{self, ApiState, auth::hash_password};
use xueliang_dispatcher::clock::SystemClock;
use xueliang_dispatcher::policy::Policy;
use xueliang_dispatcher::push::Hub;
use xueliang_dispatcher::store::{
    AlertRecord, SqlStore, SqliteStore, Store, StoreOptions, Synchronous, User, UserRecord,
};

const CAM_FUTIAN: &str = "44030400001320000001";
const CAM_XIANGMIHU: &str = "44030400001320000003";
const PASSWORD: &str = "correct horse battery";
/// Where the in-memory requests come from (TEST-NET-1): the audit trail must name it.
const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 50007);

struct Server {
    /// The desk API's routes, as `xueliang run` serves them.
    app: axum::Router,
    store: Arc<SqlStore>,
    hub: Hub,
    dep: Deployment,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dep = deployment();
    let dir = scratch();
    let store = Arc::new(
        SqliteStore::open_with(
            &dir.path().join("api.db"),
            Synchronous::Normal,
            StoreOptions {
                policy: Policy::from_config(&dep.node),
                clock: Arc::new(SystemClock),
            },
        )
        .unwrap(),
    );
    let hash = hash_password(PASSWORD).unwrap();
    for (u, desk, name) in [
        ("li", "futian-ps", "李警官"),
        ("wang", "xiangmihu-ps", "王警官"),
        ("zhao", "futian-centre", "赵值班长"),
    ] {
        store
            .put_user(
                UserRecord {
                    user: User {
                        username: u.into(),
                        desk_id: xueliang_core::DeskId::new(desk).unwrap(),
                        display_name: name.into(),
                    },
                    password_hash: hash.clone(),
                },
                false,
            )
            .await
            .unwrap();
    }
    let hub = Hub::new();
    let shutdown = Shutdown::new();
    let state = ApiState::new(
        store.clone(),
        hub.clone(),
        Arc::new(SystemClock),
        dep.node.desks.clone(),
        xueliang_dispatcher::catalog::Catalog::new(
            &dep.inventory.cameras,
            dep.router.clone(),
            &dep.areas,
        ),
        Duration::from_secs(3600),
        shutdown.clone(),
    );
    Server {
        app: api::routes(state),
        store,
        hub,
        dep,
        shutdown,
        _dir: dir,
    }
}

struct Session {
    token: String,
    csrf: String,
    cookie: String,
}

impl Session {
    /// The session of a successful `POST /api/v1/login`.
    fn from_login(r: Resp) -> Session {
        assert_eq!(r.status, 200, "{}", r.text());
        let cookie = r.header("set-cookie").expect("session cookie").to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let j = r.json();
        Session {
            token: j["token"].as_str().unwrap().into(),
            csrf: j["csrf"].as_str().unwrap().into(),
            cookie: cookie.split(';').next().unwrap().to_owned(),
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

fn credentials(user: &str) -> Value {
    json!({ "username": user, "password": PASSWORD })
}

impl Server {
    /// One request from [`PEER`], in memory.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        oneshot(&self.app, PEER, method, path, headers, body).await
    }

    async fn login(&self, user: &str) -> Session {
        let r = self
            .send("POST", "/api/v1/login", &[], Some(&credentials(user)))
            .await;
        Session::from_login(r)
    }

    async fn get(&self, s: &Session, path: &str) -> Resp {
        self.send("GET", path, &[("Authorization", &s.bearer())], None)
            .await
    }

    async fn post(&self, s: &Session, path: &str, body: Value) -> Resp {
        self.send("POST", path, &[("Authorization", &s.bearer())], Some(&body))
            .await
    }

    /// The live push of `s`, in memory.
    async fn events(&self, s: &Session) -> Sse {
        Sse::open(&self.app, PEER, &s.token).await
    }

    /// Serves the routes on a real socket on 127.0.0.1 the way the dispatcher role does
    /// (`serve::bind` + `serve::serve_on`), until shutdown; returns the port and the server.
    fn listen(&self) -> (u16, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let listener = xueliang_dispatcher::serve::bind(
            "127.0.0.1:0".parse().unwrap(),
            "the desk API",
            "dispatcher.listen",
        )
        .unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(xueliang_dispatcher::serve::serve_on(
            listener,
            self.app.clone(),
            self.shutdown.clone(),
            "the desk API",
        ));
        (port, server)
    }

    /// What the consumer does for a new alert: persist, then push.
    async fn alert(&self, a: AlertV1) -> uuid::Uuid {
        let route = self
            .dep
            .router
            .route(&a, self.dep.inventory.camera(&a.camera_id));
        let ins = self
            .store
            .insert_batch(vec![AlertRecord::new(a, route)].into())
            .await
            .unwrap()
            .pop()
            .unwrap();
        let change = ins.incident.unwrap();
        let id = change.incident.id;
        self.hub.publish(change);
        id
    }
}

fn alert(cam: &str, ev: EventType) -> AlertV1 {
    let mut a = AlertV1::new(
        CameraId::new(cam).unwrap(),
        ev,
        Severity::Major,
        "rule-1",
        chrono::Utc::now(),
    );
    a.summary = "3 persons in zone 1".into();
    a
}

#[tokio::test]
async fn login_rejects_wrong_passwords_without_saying_which_part() {
    let srv = server().await;
    for (u, p) in [("li", "wrong password"), ("nobody", PASSWORD)] {
        let r = srv
            .send(
                "POST",
                "/api/v1/login",
                &[],
                Some(&json!({ "username": u, "password": p })),
            )
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"], "wrong user name or password");
    }
    let li = srv.login("li").await;
    let me = srv.get(&li, "/api/v1/me").await.json();
    assert_eq!(me["user"]["desk_id"], "futian-ps");
    assert_eq!(me["desk_kind"], "station");
    assert_eq!(me["duty_level"], "normal");
    // Logout ends the token.
    let r = srv.post(&li, "/api/v1/logout", json!({})).await;
    assert_eq!(r.status, 204);
    assert_eq!(srv.get(&li, "/api/v1/me").await.status, 401);
    srv.shutdown.trigger();
}

#[tokio::test]
async fn stations_see_and_act_on_their_own_incidents_only() {
    let srv = server().await;
    let li = srv.login("li").await; // 福田派出所
    let wang = srv.login("wang").await; // 香蜜湖派出所
    let zhao = srv.login("zhao").await; // 福田分局指挥中心
    let mut li_push = srv.events(&li).await;
    let mut wang_push = srv.events(&wang).await;

    let mut a = alert(CAM_FUTIAN, EventType::ZoneIntrusion);
    let jpeg = vec![0xFFu8, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9];
    a.snapshot = Some(Snapshot::Inline {
        content_type: "image/jpeg".into(),
        data_base64: base64::engine::general_purpose::STANDARD.encode(&jpeg),
    });
    let sent = Instant::now();
    let id = srv.alert(a.clone()).await;

    // Station A gets the push within a second; station B does not.
    let (ev, data) = li_push
        .next(Duration::from_secs(1))
        .await
        .expect("push to A within 1 s");
    assert!(sent.elapsed() < Duration::from_secs(1));
    assert_eq!(ev, "incident");
    let change: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(change["kind"], "created");
    assert_eq!(change["incident"]["id"], id.to_string());
    // B's next push is its own incident, not A's.
    let b_id = srv.alert(alert(CAM_XIANGMIHU, EventType::Loitering)).await;
    let (_, data) = wang_push
        .next(Duration::from_secs(1))
        .await
        .expect("B's own push");
    let change: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(change["incident"]["id"], b_id.to_string());

    // Queues.
    let q = srv.get(&li, "/api/v1/incidents?open=true").await.json();
    let ids: Vec<_> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, [json!(id.to_string())]);
    assert_eq!(q[0]["camera_name"], "福田派出所 · 园区步道东口");
    let q = srv.get(&wang, "/api/v1/incidents").await.json();
    assert!(
        q.as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id.to_string())
    );
    assert_eq!(
        srv.get(&zhao, "/api/v1/incidents")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // B can neither open nor act on A's incident, nor fetch its snapshot.
    let path = format!("/api/v1/incidents/{id}");
    assert_eq!(srv.get(&wang, &path).await.status, 404);
    let r = srv.post(&wang, &format!("{path}/ack"), json!({})).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let snap = format!("{path}/alerts/{}/snapshot", a.alert_id);
    assert_eq!(srv.get(&wang, &snap).await.status, 404);
    // The centre can open it.
    assert_eq!(srv.get(&zhao, &path).await.status, 200);

    // A's detail: snapshot URL that serves the JPEG.
    let d = srv.get(&li, &path).await.json();
    assert_eq!(d["alerts"][0]["snapshot_url"], snap);
    let img = srv.get(&li, &snap).await;
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type"), Some("image/jpeg"));
    assert_eq!(img.body, jpeg);

    // Cookie-authenticated writes need the CSRF header.
    let r = srv
        .send(
            "POST",
            &format!("{path}/ack"),
            &[("Cookie", &li.cookie)],
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("X-CSRF-Token"));
    let r = srv
        .send(
            "POST",
            &format!("{path}/ack"),
            &[("Cookie", &li.cookie), ("X-CSRF-Token", &li.csrf)],
            Some(&json!({ "note": "收到" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["incident"]["state"], "acknowledged");
    let (_, data) = li_push
        .next(Duration::from_secs(1))
        .await
        .expect("ack pushed");
    assert!(data.contains("\"acknowledged\""));

    // Lifecycle errors are 409 with the reason.
    let r = srv.post(&li, &format!("{path}/ack"), json!({})).await;
    assert_eq!(r.status, 409);
    assert!(r.json()["error"].as_str().unwrap().contains("acknowledged"));
    let r = srv
        .post(
            &li,
            &format!("{path}/dispatch"),
            json!({ "unit": "巡逻一组", "note": "步行前往" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv
        .post(
            &li,
            &format!("{path}/close"),
            json!({ "disposition": "true_alarm", "note": "劝离" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv
        .post(
            &li,
            &format!("{path}/close"),
            json!({ "disposition": "maybe" }),
        )
        .await;
    assert_eq!(r.status, 422, "a bad disposition is refused: {}", r.text());

    let d = srv.get(&li, &path).await.json();
    let hist = d["history"].as_array().unwrap();
    let actions: Vec<_> = hist.iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["opened", "acknowledged", "dispatched", "closed"]);
    assert_eq!(hist[1]["actor"], "li");
    assert_eq!(
        hist[1]["from_addr"], "192.0.2.7",
        "the address the request came from"
    );
    assert_eq!(d["state"], "closed");
    assert_eq!(d["dispatch"]["unit"], "巡逻一组");
    srv.shutdown.trigger();
}

#[tokio::test]
async fn only_the_centre_sets_the_duty_level_and_every_desk_hears_it() {
    let srv = server().await;
    let li = srv.login("li").await;
    let zhao = srv.login("zhao").await;
    let mut li_push = srv.events(&li).await;
    let r = srv
        .send(
            "PUT",
            "/api/v1/duty-level",
            &[("Authorization", &li.bearer())],
            Some(&json!({ "level": "wartime" })),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(srv.get(&li, "/api/v1/stats").await.status, 403);
    let r = srv
        .send(
            "PUT",
            "/api/v1/duty-level",
            &[("Authorization", &zhao.bearer())],
            Some(&json!({ "level": "special" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (ev, data) = li_push
        .next(Duration::from_secs(1))
        .await
        .expect("duty push");
    assert_eq!(ev, "duty_level");
    assert!(data.contains("special"));
    assert_eq!(
        srv.get(&li, "/api/v1/duty-level").await.json()["level"],
        "special"
    );
    let stats = srv.get(&zhao, "/api/v1/stats").await;
    assert_eq!(stats.status, 200);

    // Cameras: a station sees its own; the centre all, with health.
    srv.alert(alert(CAM_FUTIAN, EventType::VideoLoss)).await;
    let mine = srv.get(&li, "/api/v1/cameras").await.json();
    let mine = mine.as_array().unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|c| c["desk_id"] == "futian-ps"));
    let all = srv.get(&zhao, "/api/v1/cameras").await.json();
    assert_eq!(
        all.as_array().unwrap().len(),
        srv.dep.inventory.cameras.len()
    );
    let cam = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == CAM_FUTIAN)
        .unwrap();
    assert_eq!(cam["health"], "fault");
    assert_eq!(cam["faults"], json!(["video_loss"]));

    // Silences: a station may silence its own camera, not another station's.
    let now = chrono::Utc::now();
    let window = |cam: &str| json!({ "scope": "camera", "value": cam, "starts_at": now, "ends_at": now + chrono::Duration::hours(1), "comment": "检修" });
    let r = srv.post(&li, "/api/v1/silences", window(CAM_FUTIAN)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = srv
        .post(&li, "/api/v1/silences", window(CAM_XIANGMIHU))
        .await;
    assert_eq!(r.status, 403);
    let silences = srv.get(&li, "/api/v1/silences").await.json();
    assert_eq!(silences.as_array().unwrap().len(), 1);
    // A silenced alert is stored but not pushed (minor: at 特殊 duty a major one is P1,
    // which no silence holds back).
    let mut quiet = alert(CAM_FUTIAN, EventType::Loitering);
    quiet.severity = Severity::Minor;
    let quiet = srv.alert(quiet).await;
    assert!(
        li_push.next(Duration::from_millis(500)).await.is_none(),
        "silenced: no push"
    );
    let d = srv
        .get(&li, &format!("/api/v1/incidents/{quiet}"))
        .await
        .json();
    assert_eq!(d["silenced"], true);

    // A critical (P1) alert on the silenced camera is not held back: it notifies (and will
    // escalate), and its history says a silence was ignored.
    let mut loud = alert(CAM_FUTIAN, EventType::ZoneIntrusion);
    loud.severity = Severity::Critical;
    let loud = srv.alert(loud).await;
    assert!(
        li_push.next(Duration::from_secs(2)).await.is_some(),
        "a P1 is pushed despite the silence"
    );
    let d = srv
        .get(&li, &format!("/api/v1/incidents/{loud}"))
        .await
        .json();
    assert_eq!(d["silenced"], false, "{d}");
    assert!(d.to_string().contains("ignored for P1"), "{d}");

    // Silences are bounded: a station's to 4 h ahead, the centre's to 7 days; the refusal
    // names the setting.
    let until = |h: i64, cam: &str| json!({ "scope": "camera", "value": cam, "starts_at": now, "ends_at": now + chrono::Duration::hours(h), "comment": "" });
    let r = srv
        .post(&li, "/api/v1/silences", until(24 * 365 * 100, CAM_FUTIAN))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("max_station_silence_s"), "{}", r.text());
    assert!(r.text().contains("district centre"), "{}", r.text());
    let r = srv
        .post(&li, "/api/v1/silences", until(5, CAM_FUTIAN))
        .await;
    assert_eq!(r.status, 403, "5 h is past a station's 4 h: {}", r.text());
    let r = srv
        .post(&zhao, "/api/v1/silences", until(48, CAM_FUTIAN))
        .await;
    assert_eq!(r.status, 201, "the centre may set 2 days: {}", r.text());
    let r = srv
        .post(&zhao, "/api/v1/silences", until(24 * 30, CAM_FUTIAN))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("max_silence_s"), "{}", r.text());
    let r = srv
        .post(&li, "/api/v1/silences", until(-1, CAM_FUTIAN))
        .await;
    assert_eq!(r.status, 400, "an already-over silence: {}", r.text());
    // The centre sees every silence, the station its own.
    let all = srv.get(&zhao, "/api/v1/silences").await.json();
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    srv.shutdown.trigger();
}

/// The one test over a real socket, served as the dispatcher role serves it: the live push
/// arrives through HTTP, the audit trail records the client's real address, and shutdown
/// ends the stream so the server drains.
#[tokio::test]
async fn live_push_and_client_address_over_a_real_socket() {
    let srv = server().await;
    let (port, server) = srv.listen();
    let r = request(port, "POST", "/api/v1/login", &[], Some(&credentials("li"))).await;
    let li = Session::from_login(r);
    let mut li_push = Sse::open_socket(port, &li.token).await;

    let sent = Instant::now();
    let id = srv.alert(alert(CAM_FUTIAN, EventType::ZoneIntrusion)).await;
    let (ev, data) = li_push
        .next(Duration::from_secs(1))
        .await
        .expect("push within 1 s");
    assert!(sent.elapsed() < Duration::from_secs(1));
    assert_eq!(ev, "incident");
    let change: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(change["kind"], "created");
    assert_eq!(change["incident"]["id"], id.to_string());

    let auth = li.bearer();
    let path = format!("/api/v1/incidents/{id}");
    let r = request(
        port,
        "POST",
        &format!("{path}/ack"),
        &[("Authorization", &auth)],
        Some(&json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, data) = li_push
        .next(Duration::from_secs(1))
        .await
        .expect("ack pushed");
    assert!(data.contains("\"acknowledged\""));
    let d = request(port, "GET", &path, &[("Authorization", &auth)], None).await;
    assert_eq!(d.status, 200, "{}", d.text());
    let hist = d.json()["history"].clone();
    assert_eq!(hist[1]["action"], "acknowledged");
    assert_eq!(hist[1]["actor"], "li");
    assert_eq!(hist[1]["from_addr"], "127.0.0.1");

    srv.shutdown.trigger();
    assert!(
        li_push.ends_within(Duration::from_secs(5)).await,
        "shutdown ends the stream"
    );
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server drains within 5 s after shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn openapi_describes_exactly_the_served_routes() {
    let srv = server().await;
    let doc = srv.send("GET", "/api/v1/openapi.json", &[], None).await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented.push((method.clone(), path.clone(), op.get("security").is_some()));
        }
    }
    let mut want: Vec<_> = api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let mut got: Vec<_> = documented
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // Every documented route is served, and every non-public one demands a login.
    let id = uuid::Uuid::now_v7().to_string();
    for (method, path, public) in documented {
        let p = path.replace("{id}", &id).replace("{alert_id}", &id);
        let body = (method != "get").then(|| json!({}));
        let r = srv
            .send(&method.to_uppercase(), &p, &[], body.as_ref())
            .await;
        if public {
            // Served (not 404/405), and no server error (a missing extension is a 500).
            assert!(
                r.status != 404 && r.status != 405 && r.status < 500,
                "{method} {p}: {} {}",
                r.status,
                r.text()
            );
        } else {
            assert_eq!(r.status, 401, "{method} {p} without a login");
        }
    }
    // Component schemas resolve.
    let text = doc.to_string();
    for r in text.match_indices("#/components/schemas/") {
        let name: String = text[r.0 + 21..].chars().take_while(|c| *c != '"').collect();
        assert!(
            doc["components"]["schemas"].get(&name).is_some(),
            "missing schema {name}"
        );
    }
    srv.shutdown.trigger();
}

/// Regression (issue #16): building the desk API routed a probe alert per camera to find its
/// home desk, so every dispatcher start added one `xueliang_dispatcher_routed_total` per
/// camera, and the `outside_all` signal operators watch was off by the inventory's size.
#[tokio::test]
async fn starting_the_desk_api_routes_no_alert() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let s = server().await;
    assert!(!s.dep.inventory.cameras.is_empty());
    let text = handle.render();
    assert!(
        !text.contains("xueliang_dispatcher_routed_total"),
        "routings counted at start:\n{text}"
    );
    // The same recorder does see a real routing.
    let cam = &s.dep.inventory.cameras[0];
    s.dep
        .router
        .route(&alert(cam.id.as_str(), EventType::ZoneIntrusion), Some(cam));
    assert!(handle.render().contains("xueliang_dispatcher_routed_total"));
}

/// A station probing another station's incident gets the same 404 as for a missing one, but
/// the probe leaves a trace: a count for the probing desk (and a WARN naming the user).
#[tokio::test]
async fn refused_cross_desk_requests_are_counted_per_desk() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let srv = server().await;
    let wang = srv.login("wang").await; // 香蜜湖派出所
    let id = srv.alert(alert(CAM_FUTIAN, EventType::ZoneIntrusion)).await;

    let other = srv.get(&wang, &format!("/api/v1/incidents/{id}")).await;
    let missing = srv
        .get(
            &wang,
            &format!("/api/v1/incidents/{}", uuid::Uuid::now_v7()),
        )
        .await;
    assert_eq!((other.status, missing.status), (404, 404));
    let r = srv
        .post(&wang, &format!("/api/v1/incidents/{id}/ack"), json!({}))
        .await;
    assert_eq!(r.status, 404);
    let r = srv
        .send(
            "PUT",
            "/api/v1/duty-level",
            &[("Authorization", &wang.bearer())],
            Some(&json!({ "level": "wartime" })),
        )
        .await;
    assert_eq!(r.status, 403);

    let text = handle.render();
    let count = |reason: &str| {
        let prefix = format!(
            "xueliang_dispatcher_api_refused_total{{desk=\"xiangmihu-ps\",reason=\"{reason}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .to_string()
    };
    // The GET and the ack of A's incident; the missing id is not a refusal.
    assert_eq!(count("other_desk"), "2");
    assert_eq!(count("centre_only"), "1");
}
