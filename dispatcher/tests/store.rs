//! The SQLite store: idempotent by alert id, routes kept, durable across reopen.

mod support;

use support::{alerts, backends, db_path, deployment, scratch};
use xueliang_core::DeskId;
use xueliang_dispatcher::store::{AlertRecord, RouteRole, SqliteStore, Store, Synchronous};

#[tokio::test]
async fn insert_is_idempotent_and_keeps_routes() {
    let dep = deployment();
    let dir = scratch();
    let backends = backends(dir.path(), Default::default());
    for (name, store) in &backends {
        eprintln!("backend {name}");
        insert_is_idempotent_on(&dep, store.as_ref()).await;
    }
}

async fn insert_is_idempotent_on(dep: &support::Deployment, store: &dyn Store) {
    let batch: Vec<AlertRecord> = alerts(dep, 40)
        .into_iter()
        .map(|a| {
            let cam = dep.inventory.camera(&a.camera_id);
            let route = dep.router.route(&a, cam);
            AlertRecord::new(a, route)
        })
        .collect();

    let first = store.insert_batch(batch.clone().into()).await.unwrap();
    assert!(first.iter().all(|i| i.new));
    // Same batch again, plus a duplicate inside one batch: nothing new.
    let mut again = batch.clone();
    again.push(batch[0].clone());
    let second = store.insert_batch(again.into()).await.unwrap();
    assert!(second.iter().all(|i| !i.new));
    assert_eq!(store.alert_count().await.unwrap(), 40);
    let one = store
        .insert_alert(&batch[1].alert, &batch[1].route)
        .await
        .unwrap();
    assert!(!one.new);

    for rec in &batch {
        let got = store.get_alert(rec.alert.alert_id).await.unwrap().unwrap();
        assert_eq!(got.alert, rec.alert);
        assert_eq!(got.desk_id, rec.route.primary);
        assert_eq!(got.route_reason, rec.route.reason.as_str());
        assert_eq!(got.jurisdiction, rec.route.jurisdiction);
        assert_eq!(
            got.routes[0],
            (rec.route.primary.clone(), RouteRole::Primary)
        );
        let copies: Vec<_> = got.routes[1..].iter().map(|(d, _)| d.clone()).collect();
        let mut want = rec.route.copies.clone();
        want.sort();
        assert_eq!(copies, want);
    }

    // Crowd gatherings go to the station with a copy to the centre (deploy/single-node).
    let centre = DeskId::new("futian-centre").unwrap();
    let copies = batch
        .iter()
        .filter(|r| r.route.copies.contains(&centre))
        .count();
    assert!(copies > 0, "fixture must exercise copies");
    let centre_q = store.alerts_for_desk(&centre, 1000).await.unwrap();
    let want = batch
        .iter()
        .filter(|r| r.route.primary == centre || r.route.copies.contains(&centre))
        .count();
    assert_eq!(centre_q.len(), want);
    assert!(
        centre_q
            .windows(2)
            .all(|w| w[0].alert.alert_id > w[1].alert.alert_id),
        "newest first"
    );
    assert!(
        store
            .get_alert(uuid::Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn survives_reopen_and_migrates_once() {
    let dep = deployment();
    let dir = scratch();
    let path = db_path(dir.path());
    let a = alerts(&dep, 3);
    {
        let store = SqliteStore::open(&path, Synchronous::Full).unwrap();
        for x in &a {
            let r = dep.router.route(x, dep.inventory.camera(&x.camera_id));
            assert!(store.insert_alert(x, &r).await.unwrap().new);
        }
    }
    let store = SqliteStore::open(&path, Synchronous::Normal).unwrap();
    assert_eq!(store.alert_count().await.unwrap(), 3);
    let c = rusqlite::Connection::open(&path).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // New databases get pages that hold several 2 KB alert rows (see sqlite.rs).
    let page: u32 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(page, 16 * 1024);
}

/// Two processes opening a new file at once (a dispatcher starting while `xueliang users
/// add` runs) both succeed: the migrations run once, one after the other.
#[test]
fn concurrent_opens_of_a_new_file_migrate_it_once() {
    for _ in 0..5 {
        let dir = scratch();
        let path = db_path(dir.path());
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path, Synchronous::Full).map(drop)
                })
            })
            .collect();
        for o in opens {
            o.join().unwrap().unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[tokio::test]
async fn refuses_a_newer_schema() {
    let dir = scratch();
    let path = db_path(dir.path());
    drop(SqliteStore::open(&path, Synchronous::Full).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version=99")
        .unwrap();
    let err = SqliteStore::open(&path, Synchronous::Full).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

/// A database made by an older build (schema version 2: alerts WITHOUT ROWID) keeps every
/// alert and route through migration 3 (alerts rebuilt as a rowid table), and foreign keys are
/// enforced again afterwards.
#[tokio::test]
async fn version_2_database_migrates_to_a_rowid_alerts_table_keeping_its_rows() {
    let dep = deployment();
    let dir = scratch();
    let path = db_path(dir.path());
    let old = alerts(&dep, 2);
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../migrations/0001_alerts.sql"))
            .unwrap();
        c.execute_batch(include_str!("../migrations/0002_incidents.sql"))
            .unwrap();
        c.execute_batch("PRAGMA user_version=2").unwrap();
        for a in &old {
            let json = String::from_utf8(a.to_json()).unwrap();
            c.execute(
                "INSERT INTO alerts (alert_id, camera_id, event_type, severity, rule_id, \
                 captured_at, received_at, desk_id, route_reason, json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'futian-ps', 'override', ?7)",
                rusqlite::params![
                    a.alert_id.to_string(),
                    a.camera_id.as_str(),
                    a.event_type.as_str(),
                    a.severity.as_str(),
                    a.rule_id,
                    a.captured_at.to_rfc3339(),
                    json
                ],
            )
            .unwrap();
            c.execute(
                "INSERT INTO alert_routes (alert_id, desk_id, role) VALUES (?1, 'futian-ps', 'primary')",
                [a.alert_id.to_string()],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path, Synchronous::Full).unwrap();
    assert_eq!(store.alert_count().await.unwrap(), 2);
    for a in &old {
        let got = store.get_alert(a.alert_id).await.unwrap().unwrap();
        assert_eq!(&got.alert, a);
        assert_eq!(
            got.routes,
            [(DeskId::new("futian-ps").unwrap(), RouteRole::Primary)]
        );
    }
    // New alerts go in as before.
    for a in alerts(&dep, 3).into_iter().skip(2) {
        let r = dep.router.route(&a, dep.inventory.camera(&a.camera_id));
        assert!(store.insert_alert(&a, &r).await.unwrap().new);
    }
    assert_eq!(store.alert_count().await.unwrap(), 3);
    drop(store);
    let c = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(version >= 3, "{version}");
    // An existing database keeps its page size.
    let page: u32 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(page, 4096);
    // Only a rowid table has a rowid.
    let n: i64 = c
        .query_row("SELECT COUNT(rowid) FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    let dangling: Option<String> = c
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .ok();
    assert_eq!(dangling, None);
}
