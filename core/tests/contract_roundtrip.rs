//! Every contract type survives a JSON round trip unchanged, and malformed alerts are rejected
//! with an error that says where they are wrong.

use chrono::{TimeZone, Utc};
use uuid::Uuid;
use xueliang_core::contract::*;
use xueliang_core::{CameraId, DeskId};

fn sample_alert() -> AlertV1 {
    let t = Utc.with_ymd_and_hms(2026, 11, 23, 4, 5, 6).unwrap();
    let mut a = AlertV1::new(
        CameraId::new("44030400001320000001").unwrap(),
        EventType::CrowdGathering,
        Severity::Major,
        "plaza-crowd",
        t,
    );
    a.objects.push(DetectedObject {
        class: "person".into(),
        score: 0.82,
        bbox: [580.6, 161.1, 612.1, 235.6],
        track: Some(7),
    });
    a.zone_id = Some("plaza-crowd".into());
    a.frame_size = Some([768, 576]);
    a.snapshot = Some(Snapshot::Inline {
        content_type: "image/jpeg".into(),
        data_base64: "/9j/4AAQ".into(),
    });
    a.model = Some(ModelRef {
        name: "nanodet-m-416".into(),
        version: "1.0.0".into(),
    });
    a.summary = "5 persons for 6 s in zone plaza-crowd".into();
    a
}

#[test]
fn alert_round_trips() {
    let a = sample_alert();
    let json = a.to_json();
    let back = AlertV1::from_json(&json).unwrap();
    assert_eq!(a, back);
    assert_eq!(back.alert_id.get_version_num(), 7);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["event_type"], "crowd_gathering");
    assert!((v["objects"][0]["box"][0].as_f64().unwrap() - 580.6).abs() < 1e-3);
    assert_eq!(v["snapshot"]["kind"], "inline");
}

#[test]
fn alert_ids_are_time_ordered() {
    let a = sample_alert();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let b = sample_alert();
    assert!(a.alert_id < b.alert_id);
}

#[test]
fn malformed_alerts_say_where() {
    let mut v: serde_json::Value = serde_json::from_slice(&sample_alert().to_json()).unwrap();
    v["objects"][0]["score"] = serde_json::json!("high");
    let err = AlertV1::from_json(v.to_string().as_bytes()).unwrap_err();
    assert!(err.to_string().contains("objects[0].score"), "{err}");

    // A new event type is a breaking change (the rule on AlertV1): refused, naming it.
    let mut v: serde_json::Value = serde_json::from_slice(&sample_alert().to_json()).unwrap();
    v["event_type"] = serde_json::json!("fire_detected");
    let err = AlertV1::from_json(v.to_string().as_bytes()).unwrap_err();
    assert!(err.to_string().contains("event_type"), "{err}");

    let mut a = sample_alert();
    a.schema_version = 2;
    let err = AlertV1::from_json(&a.to_json()).unwrap_err();
    assert!(matches!(err, AlertDecodeError::Version(2)));
    assert!(err.to_string().contains("upgrade the dispatchers"), "{err}");

    let mut a = sample_alert();
    a.alert_id = Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef);
    assert!(matches!(
        AlertV1::from_json(&a.to_json()),
        Err(AlertDecodeError::NotV7(_))
    ));

    let mut a = sample_alert();
    a.objects[0].score = 1.5;
    assert!(AlertV1::from_json(&a.to_json()).is_err());
    assert!(AlertV1::from_json(b"not json").is_err());
}

/// Within v1 a newer analyzer may add optional fields, at the top and in nested objects: an
/// older reader accepts the alert with every field it knows intact.
#[test]
fn a_newer_analyzers_optional_fields_are_accepted() {
    let a = sample_alert();
    let mut v: serde_json::Value = serde_json::from_slice(&a.to_json()).unwrap();
    v["gpu_latency_ms"] = serde_json::json!(3.5);
    v["objects"][0]["attributes"] = serde_json::json!({"helmet": true});
    v["model"]["precision"] = serde_json::json!("int8");
    let read = AlertV1::from_json(v.to_string().as_bytes()).unwrap();
    assert_eq!(read, a);
}

#[test]
fn camera_desk_incident_round_trip() {
    let cam = CameraV1 {
        id: CameraId::new("44030400001320000003").unwrap(),
        name: "香蜜湖派出所 · 香梅路小学门口".into(),
        location: GeoPoint {
            lat: 22.548,
            lon: 114.028,
        },
        grid: Some("440304002001".into()),
        tier: OwnerTier::District,
        tags: vec!["school".into()],
        desk_override: None,
    };
    let back: CameraV1 = serde_json::from_str(&serde_json::to_string(&cam).unwrap()).unwrap();
    assert_eq!(cam, back);

    let desk = DeskV1 {
        id: DeskId::new("futian-ps").unwrap(),
        name: "福田派出所三中心合一指挥台".into(),
        kind: DeskKind::Station,
    };
    let back: DeskV1 = serde_json::from_str(&serde_json::to_string(&desk).unwrap()).unwrap();
    assert_eq!(desk, back);

    let j = JurisdictionV1 {
        id: "futian-ps-area".into(),
        name: "福田派出所辖区".into(),
        desk_id: desk.id.clone(),
    };
    let back: JurisdictionV1 = serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
    assert_eq!(j, back);

    let t = Utc.with_ymd_and_hms(2026, 11, 23, 4, 5, 6).unwrap();
    let inc = IncidentV1 {
        id: Uuid::now_v7(),
        desk_id: desk.id.clone(),
        camera_id: cam.id.clone(),
        event_type: EventType::ZoneIntrusion,
        priority: Priority::P2,
        state: IncidentState::Dispatched,
        alert_count: 3,
        first_seen: t,
        last_seen: t,
        escalation: Some(Escalation {
            at: t,
            to_desk: DeskId::new("futian-centre").unwrap(),
            waited_s: 300,
        }),
        dispatch: Some(DispatchInfo {
            unit: "巡逻一组".into(),
            note: "到场核查".into(),
        }),
        disposition: None,
        silenced: false,
        alert_ids: vec![Uuid::now_v7()],
        history: vec![AuditEntry {
            at: t,
            actor: "zhang.wei".into(),
            from_addr: "10.1.2.3".into(),
            action: "dispatch".into(),
            from_state: Some(IncidentState::Acknowledged),
            to_state: Some(IncidentState::Dispatched),
            note: String::new(),
        }],
    };
    let back: IncidentV1 = serde_json::from_str(&serde_json::to_string(&inc).unwrap()).unwrap();
    assert_eq!(inc, back);
    assert!(IncidentState::New.can_move_to(IncidentState::Acknowledged));
    assert!(!IncidentState::Closed.can_move_to(IncidentState::New));
    assert!(!IncidentState::New.can_move_to(IncidentState::Dispatched));
}
