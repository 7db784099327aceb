//! Incidents on every store backend (SQLite always, PostgreSQL under `./xl test`): grouping,
//! the lifecycle with its audit trail, escalation and duty level on a simulated clock,
//! silences, users and sessions, statistics.

mod support;

use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;
use support::{Backends, Deployment, backends, deployment, scratch};
use xueliang_core::contract::{
    AlertV1, Disposition, DutyLevel, EventType, IncidentState, Priority, Severity,
};
use xueliang_core::{CameraId, DeskId};
use xueliang_dispatcher::clock::ManualClock;
use xueliang_dispatcher::policy::Policy;
use xueliang_dispatcher::store::{
    Action, Actor, AlertRecord, ChangeKind, IncidentFilter, NewSilence, SilenceScope, SqlStore,
    Store, StoreError, StoreOptions, User, UserRecord,
};

const CAM_FUTIAN: &str = "44030400001320000001";
const CAM_XIANGMIHU: &str = "44030400001320000003";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap()
}

struct Env {
    dep: Deployment,
    clock: Arc<ManualClock>,
    stores: Backends,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let dep = deployment();
    let clock = Arc::new(ManualClock::new(t0()));
    let dir = scratch();
    let opts = StoreOptions {
        policy: Policy::from_config(&dep.node),
        clock: clock.clone(),
    };
    let stores = backends(dir.path(), opts);
    Env {
        dep,
        clock,
        stores,
        _dir: dir,
    }
}

fn alert(cam: &str, ev: EventType, sev: Severity, at: DateTime<Utc>) -> AlertV1 {
    AlertV1::new(CameraId::new(cam).unwrap(), ev, sev, "rule-1", at)
}

fn record(dep: &Deployment, a: AlertV1) -> AlertRecord {
    let route = dep.router.route(&a, dep.inventory.camera(&a.camera_id));
    AlertRecord::new(a, route)
}

fn operator(user: &str) -> Actor {
    Actor {
        user: user.into(),
        from_addr: "10.1.2.3".into(),
    }
}

async fn put(env: &Env, store: &SqlStore, a: AlertV1) -> xueliang_dispatcher::store::Inserted {
    store
        .insert_alert(&a, &record(&env.dep, a.clone()).route)
        .await
        .unwrap()
}

#[tokio::test]
async fn alerts_group_into_incidents_within_the_window() {
    let env = env();
    for (name, store) in &env.stores {
        let s = store.as_ref();
        let base = t0() - chrono::Duration::minutes(30);
        let at = |secs: i64| base + chrono::Duration::seconds(secs);
        let crowd = EventType::CrowdGathering;
        let a1 = alert(CAM_FUTIAN, crowd, Severity::Minor, at(0));
        let first = put(&env, s, a1.clone()).await;
        let inc = first.incident.clone().unwrap();
        assert_eq!(inc.kind, ChangeKind::Created, "{name}");
        assert_eq!(inc.incident.state, IncidentState::New);
        assert_eq!(inc.incident.desk_id.as_str(), "futian-ps", "{name}");
        // Crowd gatherings are copied to the centre (deploy/single-node route tree).
        assert!(
            inc.desks.iter().any(|d| d.as_str() == "futian-centre"),
            "{name}: {:?}",
            inc.desks
        );
        // Within 300 s of the last alert: joins. A more severe one raises the priority.
        let j = put(&env, s, alert(CAM_FUTIAN, crowd, Severity::Major, at(200))).await;
        assert_eq!(j.incident.as_ref().unwrap().kind, ChangeKind::Updated);
        let j = put(&env, s, alert(CAM_FUTIAN, crowd, Severity::Minor, at(450))).await;
        let joined = j.incident.unwrap().incident;
        assert_eq!(joined.id, inc.incident.id, "{name}");
        assert_eq!(joined.alert_count, 3);
        assert_eq!(
            joined.priority,
            Priority::P2,
            "{name}: the major alert raised it"
        );
        assert_eq!(joined.first_seen, at(0));
        assert_eq!(joined.last_seen, at(450));
        // Redelivery of the first alert: nothing new, the count stays.
        let again = put(&env, s, a1.clone()).await;
        assert!(!again.new && again.incident.is_none());
        // Another event type on the same camera, and a gap beyond the window: new incidents.
        let other = put(
            &env,
            s,
            alert(CAM_FUTIAN, EventType::Loitering, Severity::Minor, at(460)),
        )
        .await;
        assert_ne!(other.incident.unwrap().incident.id, joined.id);
        let late = put(
            &env,
            s,
            alert(CAM_FUTIAN, crowd, Severity::Minor, at(451 + 300 + 1)),
        )
        .await;
        let late = late.incident.unwrap();
        assert_eq!(late.kind, ChangeKind::Created, "{name}: beyond the window");

        let (full, desks) = s.get_incident(joined.id).await.unwrap().unwrap();
        assert_eq!(full.alert_ids.len(), 3);
        assert_eq!(full.alert_ids[0], a1.alert_id, "oldest first");
        assert_eq!(full.history[0].action, "opened");
        assert_eq!(full.history[0].actor, "system");
        assert!(desks.len() >= 2);
        let alerts = s.incident_alerts(joined.id).await.unwrap();
        assert_eq!(alerts.len(), 3);
        assert!(alerts.iter().all(|a| a.incident_id == Some(joined.id)));

        // A closed incident is not reopened: the next alert opens a new one.
        s.act(
            late.incident.id,
            Action::Close {
                disposition: Disposition::FalseAlarm,
                note: String::new(),
            },
            operator("li"),
        )
        .await
        .unwrap();
        let after = put(&env, s, alert(CAM_FUTIAN, crowd, Severity::Minor, at(760))).await;
        assert_eq!(after.incident.unwrap().kind, ChangeKind::Created, "{name}");
        assert_eq!(s.alert_count().await.unwrap(), 6, "{name}");
    }
}

/// One batch groups in memory (one read per incident, one write-back); the result must be
/// exactly what alerts stored one at a time give, and every change it reports must be what
/// the store reads back.
#[tokio::test]
async fn a_batch_groups_exactly_like_alerts_one_at_a_time() {
    let env = env();
    let base = t0() - chrono::Duration::minutes(60);
    let at = |secs: i64| base + chrono::Duration::seconds(secs);
    let crowd = EventType::CrowdGathering;
    let loiter = EventType::Loitering;
    // Two cameras, two event types; joins, an out-of-order alert inside the window, a
    // severity raise, a gap beyond the 300 s window (a second incident while the first stays
    // open), and a duplicate inside the batch.
    let script = [
        (CAM_FUTIAN, crowd, Severity::Minor, 0),
        (CAM_FUTIAN, crowd, Severity::Minor, 100),
        (CAM_XIANGMIHU, crowd, Severity::Minor, 120),
        (CAM_FUTIAN, loiter, Severity::Major, 130),
        (CAM_FUTIAN, crowd, Severity::Critical, 200),
        (CAM_FUTIAN, crowd, Severity::Minor, 150),
        (CAM_FUTIAN, crowd, Severity::Minor, 900),
        (CAM_FUTIAN, crowd, Severity::Minor, 950),
        (CAM_XIANGMIHU, crowd, Severity::Minor, 300),
        (CAM_FUTIAN, loiter, Severity::Minor, 140),
    ];
    let alerts: Vec<AlertV1> = script
        .iter()
        .map(|&(cam, ev, sev, t)| alert(cam, ev, sev, at(t)))
        .collect();
    let mut batch: Vec<AlertRecord> = alerts.iter().map(|a| record(&env.dep, a.clone())).collect();
    batch.push(batch[1].clone());
    for (name, store) in &env.stores {
        // One alert already stored before the batch: its incident is read, then joined.
        let s = store.as_ref();
        put(&env, s, alerts[0].clone()).await;
        let results = s.insert_batch(batch.clone().into()).await.unwrap();
        assert_eq!(results.len(), batch.len());
        assert!(!results[0].new, "{name}: stored before the batch");
        assert!(
            !results[batch.len() - 1].new,
            "{name}: duplicate inside the batch"
        );
        let mut ids = Vec::new();
        for (i, r) in results.iter().enumerate().take(alerts.len()).skip(1) {
            let change = r.incident.as_ref().unwrap();
            ids.push(change.incident.id);
            // The change is a snapshot of the incident right after this alert joined; the
            // incident's final state is read back below.
            assert_eq!(change.incident.camera_id, alerts[i].camera_id, "{name}");
        }
        // Alerts 1, 4 and 5 (out of order) joined the first crowd incident; 6 opened another,
        // 7 joined that; 8 joined the other camera's; 9 its loitering incident.
        let first_crowd = ids[0];
        assert_eq!([ids[3], ids[4]], [first_crowd, first_crowd], "{name}");
        assert_ne!(ids[5], first_crowd, "{name}: 900 s is beyond the window");
        assert_eq!(ids[6], ids[5], "{name}");
        assert_eq!(ids[7], ids[1], "{name}: the other camera's incident");
        assert_eq!(ids[8], ids[2], "{name}: loitering joins its own incident");
        for r in results.iter().filter(|r| r.new) {
            let change = r.incident.as_ref().unwrap();
            let (stored, desks) = s.get_incident(change.incident.id).await.unwrap().unwrap();
            // The last change of each incident in the batch is its stored state.
            let last = results
                .iter()
                .filter_map(|r| r.incident.as_ref())
                .rfind(|c| c.incident.id == change.incident.id)
                .unwrap();
            let mut summary = stored.clone();
            summary.alert_ids.clear();
            summary.history.clear();
            assert_eq!(last.incident, summary, "{name}");
            assert_eq!(
                last.desks,
                desks.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>()
            );
        }
        let (crowd1, _) = s.get_incident(first_crowd).await.unwrap().unwrap();
        assert_eq!(crowd1.alert_count, 4, "{name}: alerts 0, 1, 4 and 5");
        assert_eq!(crowd1.first_seen, at(0));
        assert_eq!(crowd1.last_seen, at(200));
        assert_eq!(
            crowd1.priority,
            Priority::P1,
            "{name}: the critical alert raised it"
        );
        assert_eq!(crowd1.alert_ids.len(), 4);
        let (crowd2, _) = s.get_incident(ids[5]).await.unwrap().unwrap();
        assert_eq!(
            (crowd2.alert_count, crowd2.first_seen, crowd2.last_seen),
            (2, at(900), at(950))
        );
        assert_eq!(crowd2.history.len(), 1, "{name}: opened, audited once");
        assert_eq!(
            s.alert_count().await.unwrap(),
            alerts.len() as u64,
            "{name}"
        );
    }
}

#[tokio::test]
async fn lifecycle_moves_forward_and_audits_every_step() {
    let env = env();
    for (name, store) in &env.stores {
        let s = store.as_ref();
        env.clock.set(t0());
        let ch = put(
            &env,
            s,
            alert(
                CAM_XIANGMIHU,
                EventType::ZoneIntrusion,
                Severity::Major,
                t0(),
            ),
        )
        .await;
        let id = ch.incident.unwrap().incident.id;
        let wang = operator("wang");

        // new → dispatched skips acknowledgement: refused.
        let err = s
            .act(
                id,
                Action::Dispatch {
                    unit: "巡逻一组".into(),
                    note: String::new(),
                },
                wang.clone(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{name}: {err}");
        assert!(err.to_string().contains("new"), "{err}");

        env.clock.advance(Duration::from_secs(20));
        let c = s
            .act(
                id,
                Action::Acknowledge {
                    note: "收到".into(),
                },
                wang.clone(),
            )
            .await
            .unwrap();
        assert_eq!(c.kind, ChangeKind::Acknowledged);
        assert_eq!(c.incident.state, IncidentState::Acknowledged);
        // Twice: conflict.
        assert!(matches!(
            s.act(
                id,
                Action::Acknowledge {
                    note: String::new()
                },
                wang.clone()
            )
            .await,
            Err(StoreError::Conflict(_))
        ));
        // Dispatch needs a unit.
        assert!(matches!(
            s.act(
                id,
                Action::Dispatch {
                    unit: " ".into(),
                    note: String::new()
                },
                wang.clone()
            )
            .await,
            Err(StoreError::Conflict(_))
        ));
        let c = s
            .act(
                id,
                Action::Dispatch {
                    unit: "巡逻一组".into(),
                    note: "从香梅路出发".into(),
                },
                wang.clone(),
            )
            .await
            .unwrap();
        assert_eq!(c.incident.state, IncidentState::Dispatched);
        assert_eq!(c.incident.dispatch.as_ref().unwrap().unit, "巡逻一组");
        let c = s
            .act(
                id,
                Action::Close {
                    disposition: Disposition::TrueAlarm,
                    note: "已处置".into(),
                },
                wang.clone(),
            )
            .await
            .unwrap();
        assert_eq!(c.incident.state, IncidentState::Closed);
        assert_eq!(c.incident.disposition, Some(Disposition::TrueAlarm));
        assert!(matches!(
            s.act(
                id,
                Action::Acknowledge {
                    note: String::new()
                },
                wang.clone()
            )
            .await,
            Err(StoreError::Conflict(_))
        ));

        let (full, _) = s.get_incident(id).await.unwrap().unwrap();
        let actions: Vec<_> = full.history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(
            actions,
            ["opened", "acknowledged", "dispatched", "closed"],
            "{name}"
        );
        let ack = &full.history[1];
        assert_eq!(ack.actor, "wang");
        assert_eq!(ack.from_addr, "10.1.2.3");
        assert_eq!(ack.at, t0() + chrono::Duration::seconds(20));
        assert_eq!(ack.from_state, Some(IncidentState::New));
        assert_eq!(ack.to_state, Some(IncidentState::Acknowledged));
        assert!(full.history[2].note.contains("巡逻一组"));
        assert!(full.history[3].note.contains("true_alarm"));

        let missing = s
            .act(
                uuid::Uuid::now_v7(),
                Action::Acknowledge {
                    note: String::new(),
                },
                wang,
            )
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound(_)), "{missing}");
    }
}

#[tokio::test]
async fn unacknowledged_incidents_escalate_after_their_sla() {
    let env = env();
    for (name, store) in &env.stores {
        let s = store.as_ref();
        env.clock.set(t0());
        // Major → P2: 180 s at the normal duty level.
        let late = put(
            &env,
            s,
            alert(CAM_FUTIAN, EventType::ZoneIntrusion, Severity::Major, t0()),
        )
        .await
        .incident
        .unwrap()
        .incident;
        assert_eq!(late.priority, Priority::P2);
        // Acknowledged in time: never escalates.
        let acked = put(
            &env,
            s,
            alert(
                CAM_XIANGMIHU,
                EventType::ZoneIntrusion,
                Severity::Major,
                t0(),
            ),
        )
        .await
        .incident
        .unwrap()
        .incident;
        s.act(
            acked.id,
            Action::Acknowledge {
                note: String::new(),
            },
            operator("wang"),
        )
        .await
        .unwrap();
        // Minor → P3: 600 s.
        let slow = put(
            &env,
            s,
            alert(CAM_FUTIAN, EventType::Loitering, Severity::Minor, t0()),
        )
        .await
        .incident
        .unwrap()
        .incident;
        assert_eq!(slow.priority, Priority::P3);

        env.clock.advance(Duration::from_secs(179));
        assert!(
            s.escalate_due().await.unwrap().is_empty(),
            "{name}: not yet"
        );
        env.clock.advance(Duration::from_secs(2));
        let up = s.escalate_due().await.unwrap();
        assert_eq!(up.len(), 1, "{name}");
        let e = &up[0];
        assert_eq!(e.kind, ChangeKind::Escalated);
        assert_eq!(e.incident.id, late.id);
        let esc = e.incident.escalation.as_ref().unwrap();
        assert_eq!(esc.to_desk.as_str(), "futian-centre");
        assert_eq!(esc.waited_s, 181);
        assert!(e.desks.iter().any(|d| d.as_str() == "futian-centre"));
        // Once only.
        assert!(s.escalate_due().await.unwrap().is_empty());
        let (full, _) = s.get_incident(late.id).await.unwrap().unwrap();
        let h = full.history.last().unwrap();
        assert_eq!(h.action, "escalated");
        assert!(
            h.note.contains("180 s") && h.note.contains("waited 181 s"),
            "{}",
            h.note
        );

        // 战时: priorities rise and SLAs shrink to a quarter; the waiting P3 becomes P1 (15 s).
        let changed = s
            .set_duty_level(DutyLevel::Wartime, operator("zhao"))
            .await
            .unwrap();
        assert!(
            changed
                .iter()
                .any(|c| c.incident.id == slow.id && c.incident.priority == Priority::P1),
            "{name}: {changed:?}"
        );
        assert_eq!(s.duty_level().await.unwrap(), DutyLevel::Wartime);
        let up = s.escalate_due().await.unwrap();
        assert_eq!(
            up.iter().map(|c| c.incident.id).collect::<Vec<_>>(),
            [slow.id],
            "{name}"
        );
        // A camera fault keeps its priority whatever the duty level.
        let fault = put(
            &env,
            s,
            alert(CAM_FUTIAN, EventType::VideoLoss, Severity::Major, t0()),
        )
        .await
        .incident
        .unwrap()
        .incident;
        assert_eq!(fault.priority, Priority::P2);
        s.set_duty_level(DutyLevel::Normal, operator("zhao"))
            .await
            .unwrap();

        let esc = s
            .list_incidents(IncidentFilter {
                escalated: Some(true),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(esc.len(), 2, "{name}");
    }
}

#[tokio::test]
async fn silences_record_but_do_not_notify_or_escalate() {
    let env = env();
    for (name, store) in &env.stores {
        let s = store.as_ref();
        env.clock.set(t0());
        let centre = operator("zhao");
        let sil = s
            .add_silence(
                NewSilence {
                    scope: SilenceScope::Camera,
                    value: CAM_FUTIAN.into(),
                    starts_at: t0(),
                    ends_at: t0() + chrono::Duration::hours(1),
                    comment: "镜头检修".into(),
                },
                centre.clone(),
            )
            .await
            .unwrap();
        assert_eq!(s.list_silences().await.unwrap().len(), 1);
        let ch = put(
            &env,
            s,
            alert(CAM_FUTIAN, EventType::ZoneIntrusion, Severity::Major, t0()),
        )
        .await
        .incident
        .unwrap();
        assert!(!ch.notify && ch.incident.silenced, "{name}");
        // A critical alert (P1) on the silenced camera is not held back by the silence.
        let p1 = put(
            &env,
            s,
            alert(
                CAM_FUTIAN,
                EventType::CrowdGathering,
                Severity::Critical,
                t0(),
            ),
        )
        .await
        .incident
        .unwrap();
        assert!(
            p1.notify && !p1.incident.silenced,
            "{name}: P1 ignores silences"
        );
        // Another camera is not silenced.
        let other = put(
            &env,
            s,
            alert(
                CAM_XIANGMIHU,
                EventType::ZoneIntrusion,
                Severity::Critical,
                t0(),
            ),
        )
        .await
        .incident
        .unwrap();
        assert!(other.notify);
        env.clock.advance(Duration::from_secs(3600 * 2));
        let up = s.escalate_due().await.unwrap();
        let mut escalated: Vec<_> = up.iter().map(|c| c.incident.id).collect();
        escalated.sort();
        let mut expected = vec![other.incident.id, p1.incident.id];
        expected.sort();
        assert_eq!(
            escalated, expected,
            "{name}: the silenced one waits quietly, the P1 escalates"
        );
        // Desk scope: a station's whole queue.
        let desk_sil = s
            .add_silence(
                NewSilence {
                    scope: SilenceScope::Desk,
                    value: "xiangmihu-ps".into(),
                    starts_at: env.clock_now(),
                    ends_at: env.clock_now() + chrono::Duration::minutes(10),
                    comment: String::new(),
                },
                centre.clone(),
            )
            .await
            .unwrap();
        let q = put(
            &env,
            s,
            alert(
                CAM_XIANGMIHU,
                EventType::Loitering,
                Severity::Minor,
                env.clock_now(),
            ),
        )
        .await
        .incident
        .unwrap();
        assert!(!q.notify, "{name}");
        // The camera silence ended an hour ago: the next alert of the silenced incident's
        // kind opens a new incident (outside the window) that notifies.
        let loud = put(
            &env,
            s,
            alert(
                CAM_FUTIAN,
                EventType::ZoneIntrusion,
                Severity::Critical,
                env.clock_now(),
            ),
        )
        .await
        .incident
        .unwrap();
        assert!(loud.notify && !loud.incident.silenced, "{name}");
        // The camera silence is already over; the desk silence is ended by hand.
        assert!(!s.expire_silence(sil.id, centre.clone()).await.unwrap());
        assert!(s.expire_silence(desk_sil.id, centre.clone()).await.unwrap());
        assert!(s.list_silences().await.unwrap().is_empty(), "{name}");
        let q2 = put(
            &env,
            s,
            alert(
                CAM_XIANGMIHU,
                EventType::Loitering,
                Severity::Minor,
                env.clock_now(),
            ),
        )
        .await
        .incident
        .unwrap();
        assert!(
            q2.notify && !q2.incident.silenced,
            "{name}: joined and unsilenced"
        );
        assert_eq!(q2.incident.id, q.incident.id);
        assert!(
            !s.expire_silence(uuid::Uuid::now_v7(), centre)
                .await
                .unwrap()
        );
        // Bad windows are refused with a reason.
        let err = s
            .add_silence(
                NewSilence {
                    scope: SilenceScope::Camera,
                    value: CAM_FUTIAN.into(),
                    starts_at: t0(),
                    ends_at: t0(),
                    comment: String::new(),
                },
                operator("zhao"),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("ends"), "{err}");
    }
}

impl Env {
    fn clock_now(&self) -> DateTime<Utc> {
        use xueliang_dispatcher::clock::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn users_and_sessions_expire() {
    let env = env();
    for (name, store) in &env.stores {
        let s = store.as_ref();
        env.clock.set(t0());
        let rec = UserRecord {
            user: User {
                username: "li".into(),
                desk_id: DeskId::new("futian-ps").unwrap(),
                display_name: "李警官".into(),
            },
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        };
        s.put_user(rec.clone(), false).await.unwrap();
        let dup = s.put_user(rec.clone(), false).await.unwrap_err();
        assert!(dup.to_string().contains("already exists"), "{name}: {dup}");
        assert_eq!(s.get_user("li").await.unwrap().unwrap(), rec);
        assert!(s.get_user("nobody").await.unwrap().is_none());
        s.create_session(
            "h1".into(),
            "li".into(),
            "csrf1".into(),
            t0() + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
        let (u, csrf) = s.session("h1").await.unwrap().unwrap();
        assert_eq!(u, rec.user);
        assert_eq!(csrf, "csrf1");
        assert!(s.session("h2").await.unwrap().is_none());
        env.clock.advance(Duration::from_secs(3601));
        assert!(s.session("h1").await.unwrap().is_none(), "{name}: expired");
        // Replacing a user ends its sessions.
        s.create_session(
            "h3".into(),
            "li".into(),
            "c".into(),
            env.clock_now() + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
        s.put_user(rec.clone(), true).await.unwrap();
        assert!(s.session("h3").await.unwrap().is_none());
        assert_eq!(s.list_users().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn queues_filter_by_desk_and_sort_by_priority() {
    let env = env();
    for (name, store) in &env.stores {
        let s = store.as_ref();
        env.clock.set(t0());
        let minor = put(
            &env,
            s,
            alert(CAM_FUTIAN, EventType::Loitering, Severity::Minor, t0()),
        )
        .await
        .incident
        .unwrap()
        .incident;
        env.clock.advance(Duration::from_secs(1));
        let crit = put(
            &env,
            s,
            alert(
                CAM_FUTIAN,
                EventType::ZoneIntrusion,
                Severity::Critical,
                t0(),
            ),
        )
        .await
        .incident
        .unwrap()
        .incident;
        put(
            &env,
            s,
            alert(
                CAM_XIANGMIHU,
                EventType::ZoneIntrusion,
                Severity::Major,
                t0(),
            ),
        )
        .await;
        put(
            &env,
            s,
            alert(CAM_FUTIAN, EventType::VideoLoss, Severity::Major, t0()),
        )
        .await;
        let futian = DeskId::new("futian-ps").unwrap();
        let q = s
            .list_incidents(IncidentFilter {
                visible_to: Some(futian.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            q.iter().map(|i| i.id).collect::<Vec<_>>(),
            [crit.id, minor.id],
            "{name}: P1 first; the fault went to video-ops"
        );
        let all = s.list_incidents(IncidentFilter::default()).await.unwrap();
        assert_eq!(all.len(), 4);
        let ops = s
            .list_incidents(IncidentFilter {
                visible_to: Some(DeskId::new("video-ops").unwrap()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].event_type, EventType::VideoLoss);
        let faults = s.camera_faults().await.unwrap();
        assert_eq!(faults.len(), 1);
        assert_eq!(faults[0].camera_id.as_str(), CAM_FUTIAN);
        s.act(
            crit.id,
            Action::Acknowledge {
                note: String::new(),
            },
            operator("li"),
        )
        .await
        .unwrap();
        let stats = s.desk_stats().await.unwrap();
        let f = stats.iter().find(|d| d.desk_id == futian).unwrap();
        assert_eq!((f.new, f.acknowledged), (1, 1), "{name}");
        assert_eq!(f.ack_within_sla, Some(1.0));
        let by_type = s
            .list_incidents(IncidentFilter {
                event_type: Some(EventType::ZoneIntrusion),
                state: Some(IncidentState::New),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_type.len(), 1, "{name}");
    }
}
