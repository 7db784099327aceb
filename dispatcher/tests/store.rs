//! The SQLite store: idempotent by alert id, routes kept, durable across reopen.

mod support;

use support::{alerts, backends, db_path, deployment, scratch};
use xueliang_core::DeskId;
use xueliang_dispatcher::store::{AlertRecord, RouteRole, SqliteStore, Store, Synchronous};

#[tokio::test]
async fn insert_is_idempotent_and_keeps_routes() {
    let dep = deployment();
    let dir = scratch();
    for (name, store) in backends(dir.path(), Default::default()) {
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
            AlertRecord { alert: a, route }
        })
        .collect();

    let first = store.insert_batch(batch.clone()).await.unwrap();
    assert!(first.iter().all(|i| i.new));
    // Same batch again, plus a duplicate inside one batch: nothing new.
    let mut again = batch.clone();
    again.push(batch[0].clone());
    let second = store.insert_batch(again).await.unwrap();
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
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
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
