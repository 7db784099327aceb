//! The shipped single-node example is valid, and every kind of mistake is reported with the
//! file, the key path and a hint.

use std::path::Path;
use std::time::Duration;
use xueliang_core::config::*;

const NODE: &str = include_str!("../../deploy/single-node/xueliang.toml");
const CAMERAS: &str = include_str!("../../deploy/single-node/cameras.toml");
const AREAS: &str = include_str!("../../deploy/single-node/jurisdictions.geojson");

fn no_env(_: &str) -> Option<String> {
    None
}

fn node(text: &str) -> Result<NodeConfig, ConfigErrors> {
    NodeConfig::parse(text, Path::new("deploy/single-node/xueliang.toml"))
}

fn cameras(text: &str) -> Result<Inventory, ConfigErrors> {
    Inventory::parse(text, Path::new("cameras.toml"), &no_env)
}

fn one_error(r: Result<impl std::fmt::Debug, ConfigErrors>) -> ConfigError {
    let errs = r.expect_err("expected a config error").0;
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn shipped_example_is_valid() {
    let n = node(NODE).unwrap();
    let inv = cameras(CAMERAS).unwrap();
    let j = Jurisdictions::parse(AREAS, Path::new("jurisdictions.geojson")).unwrap();
    assert_eq!(n.centre().id.as_str(), "futian-centre");
    assert!(n.cameras_file.ends_with("single-node/cameras.toml"));
    assert_eq!(n.utc_offset_s, 8 * 3600);
    assert_eq!(inv.cameras.len(), 6);
    assert!(inv.cameras.iter().all(|c| c.id.gb28181().is_some()));
    assert_eq!(inv.cameras[0].sampling, Sampling::Fps(2.0));
    assert_eq!(inv.cameras[0].rules.len(), 5);
    assert_eq!(j.areas.len(), 2);
    let s = Settings::assemble(n, inv, j, Path::new("xueliang.toml")).unwrap();
    assert_eq!(
        s.inventory.cameras[5]
            .desk_override
            .as_ref()
            .unwrap()
            .as_str(),
        "futian-ps"
    );
}

#[test]
fn unknown_keys_are_named_at_every_level() {
    let e = one_error(node(
        &NODE.replace("[analyzer]\n", "[analyzer]\nbatch_mx = 3\n"),
    ));
    assert_eq!(e.key, "analyzer.batch_mx");
    assert!(e.line.is_some());
    assert!(
        e.to_string().contains("deploy/single-node/xueliang.toml"),
        "{e}"
    );
    assert!(e.hint.unwrap().contains("remove it"));

    let e = one_error(node(&format!("colour = \"red\"\n{NODE}")));
    assert_eq!(e.key, "colour");
    assert_eq!(e.line, Some(1));

    let e = one_error(cameras(
        &CAMERAS.replace("dwell_s = 40", "dwell_s = 40\nzoom = 2"),
    ));
    assert!(
        e.key.ends_with(".zoom") && e.key.starts_with("camera[0].rule[2]"),
        "{}",
        e.key
    );

    let bad = AREAS.replace(
        "\"kind\": \"station\" }",
        "\"kind\": \"station\", \"colour\": \"red\" }",
    );
    let e = Jurisdictions::parse(&bad, Path::new("j.geojson"))
        .unwrap_err()
        .0;
    assert_eq!(e[0].key, "features[0].properties.colour");
}

#[test]
fn bad_values_say_what_to_change() {
    let e = one_error(node(
        &NODE.replace("format = \"pretty\"", "format = \"xml\""),
    ));
    assert_eq!(e.key, "log.format");
    assert!(e.hint.unwrap().contains("\"json\""));

    let e = one_error(node(
        &NODE.replace("listen = \"127.0.0.1:9464\"", "listen = \"localhost\""),
    ));
    assert_eq!(e.key, "http.listen");

    let e = one_error(node(
        &NODE.replace("kind = \"centre\"", "kind = \"station\""),
    ));
    assert_eq!(e.key, "desk");
    assert!(e.message.contains("0 desks"), "{}", e.message);

    // Several mistakes are reported together.
    let both = NODE
        .replace("format = \"pretty\"", "format = \"xml\"")
        .replace("utc_offset = \"+08:00\"", "utc_offset = \"CST\"");
    assert_eq!(node(&both).unwrap_err().0.len(), 2);
}

/// Counts are validated once into `NonZeroUsize`, and the detection thresholds have one
/// source of truth: the model manifest, unless the node overrides them.
#[test]
fn analyzer_counts_and_thresholds() {
    let n = node(NODE).unwrap();
    assert_eq!(n.analyzer.batch_max.get(), 4);
    assert_eq!(
        n.analyzer.score_threshold, None,
        "the example leaves it to the model"
    );
    assert_eq!(n.analyzer.nms_iou, None);

    let n = node(&NODE.replace("[analyzer]\n", "[analyzer]\nscore_threshold = 0.5\n")).unwrap();
    assert_eq!(n.analyzer.score_threshold, Some(0.5));

    let e = one_error(node(
        &NODE.replace("[analyzer]\n", "[analyzer]\nscore_threshold = 1.5\n"),
    ));
    assert_eq!(e.key, "analyzer.score_threshold");
    assert!(e.hint.unwrap().contains("model's"));

    let e = one_error(node(&NODE.replace("batch_max = 4", "batch_max = 0")));
    assert_eq!(e.key, "analyzer.batch_max");
    assert!(e.message.contains("at least 1"), "{}", e.message);
    let e = one_error(node(&NODE.replace("batch_max = 4", "batch_max = 65")));
    assert_eq!(e.key, "analyzer.batch_max");

    let e = one_error(node(&NODE.replace("frame_queue = 64", "frame_queue = 0")));
    assert_eq!(e.key, "ingest.frame_queue");
}

#[test]
fn camera_mistakes_are_caught() {
    let dup = CAMERAS.replace("44030400001320000002", "44030400001320000001");
    let e = one_error(cameras(&dup));
    assert_eq!(e.key, "camera[1].id");

    let e = one_error(cameras(
        &CAMERAS.replace("sampling = \"2fps\"", "sampling = \"fast\""),
    ));
    assert_eq!(e.key, "camera[0].sampling");

    let e = one_error(cameras(
        &CAMERAS.replace("[0.78, 0.05], [1.0, 0.05]", "[0.78, 0.05], [1.4, 0.05]"),
    ));
    assert_eq!(e.key, "camera[0].rule[4].zone[1]");
    assert!(e.hint.unwrap().contains("normalised"));

    let e = one_error(cameras(&CAMERAS.replace(
        "classes = [\"person\"]\n  zone",
        "classes = [\"pedestrian\"]\n  zone",
    )));
    assert_eq!(e.key, "camera[0].rule[0].classes[0]");

    // A key that does not apply to the rule's kind is an error, not silently ignored.
    let e = one_error(cameras(
        &CAMERAS.replace("dwell_s = 40", "dwell_s = 40\n  min_persons = 3"),
    ));
    assert_eq!(e.key, "camera[0].rule[2].min_persons");

    let e = one_error(cameras(&CAMERAS.replace("\"20:00-06:00\"", "\"8pm-6am\"")));
    assert_eq!(e.key, "camera[0].rule[0].schedule[0]");

    let e = one_error(cameras(
        &CAMERAS.replace("kind = \"loitering\"", "kind = \"loiter\""),
    ));
    assert_eq!(e.key, "camera[0].rule[2].kind");
}

#[test]
fn passwords_never_appear_in_errors_or_debug() {
    let text = CAMERAS.replace(
        "url = \"rtsp://127.0.0.1:8554/cam/1\"",
        "url = \"rtsp://admin:hunter2@127.0.0.1:8554/cam/1\"",
    );
    let inv = cameras(&text).unwrap();
    let cam = &inv.cameras[1];
    assert_eq!(cam.url, "rtsp://127.0.0.1:8554/cam/1");
    assert_eq!(
        cam.credentials.as_ref().unwrap().password.expose(),
        "hunter2"
    );
    assert!(!format!("{inv:?}").contains("hunter2"));

    let bad = text.replace("rtsp://admin:hunter2@", "rtp://admin:hunter2@");
    let err = cameras(&bad).unwrap_err().to_string();
    assert!(!err.contains("hunter2"), "{err}");

    let env_text = CAMERAS.replace(
        "url = \"rtsp://127.0.0.1:8554/cam/1\"",
        "url = \"rtsp://127.0.0.1:8554/cam/1\"\nusername = \"admin\"\npassword_env = \"CAM2_PASSWORD\"",
    );
    let e = one_error(cameras(&env_text));
    assert_eq!(e.key, "camera[1].password_env");
    let inv = Inventory::parse(&env_text, Path::new("c.toml"), &|k| {
        (k == "CAM2_PASSWORD").then(|| "s3cret".to_string())
    })
    .unwrap();
    assert_eq!(
        inv.cameras[1]
            .credentials
            .as_ref()
            .unwrap()
            .password
            .expose(),
        "s3cret"
    );
}

#[test]
fn cross_file_references_are_checked() {
    let n = node(NODE).unwrap();
    let inv = cameras(&CAMERAS.replace("desk = \"futian-ps\"", "desk = \"nowhere-ps\"")).unwrap();
    let j = Jurisdictions::parse(AREAS, Path::new("j.geojson")).unwrap();
    let e = Settings::assemble(n, inv, j, Path::new("xueliang.toml"))
        .unwrap_err()
        .0;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].key, "camera[5].desk");
    assert!(e[0].hint.as_ref().unwrap().contains("[[desk]]"));
}

#[test]
fn geojson_problems_are_named() {
    let e = Jurisdictions::parse(
        "{\"type\": \"Point\", \"coordinates\": [1, 2]}",
        Path::new("j.geojson"),
    )
    .unwrap_err()
    .0;
    assert!(e[0].message.contains("FeatureCollection"));
    // Latitude and longitude swapped (everywhere the position appears, rings stay closed).
    let swapped = AREAS.replace("[114.0420, 22.5300]", "[22.5300, 114.0420]");
    let e = Jurisdictions::parse(&swapped, Path::new("j.geojson"))
        .unwrap_err()
        .0;
    assert_eq!(e[0].key, "features[0].geometry");
    assert!(e[0].hint.as_ref().unwrap().contains("longitude"));
    assert!(Jurisdictions::parse("{not json", Path::new("j.geojson")).is_err());
}

/// One feature `a` with the given rings (each `[[lon, lat], …]`) as GeoJSON.
fn one_area(rings: &str) -> String {
    format!(
        "{{\"type\": \"FeatureCollection\", \"features\": [{{\"type\": \"Feature\", \
         \"properties\": {{\"id\": \"a\", \"name\": \"甲\", \"desk_id\": \"futian-ps\"}}, \
         \"geometry\": {{\"type\": \"Polygon\", \"coordinates\": {rings}}}}}]}}"
    )
}

#[test]
fn jurisdiction_geometry_must_be_simple_closed_rings_with_holes_inside() {
    let j = |rings: &str| Jurisdictions::parse(&one_area(rings), Path::new("j.geojson"));
    let square = "[[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.6], [114.0, 22.5]]";
    j(&format!("[{square}]")).unwrap();
    let hole = "[[114.02, 22.52], [114.04, 22.52], [114.04, 22.54], [114.02, 22.52]]";
    j(&format!("[{square}, {hole}]")).unwrap();

    // A bow tie: two edges cross at [114.05, 22.55].
    let e = one_error(j(
        "[[[114.0, 22.5], [114.1, 22.6], [114.1, 22.5], [114.0, 22.6], [114.0, 22.5]]]",
    ));
    assert_eq!(e.key, "features[0].geometry");
    assert!(e.message.contains("jurisdiction `a`"), "{e}");
    assert!(e.message.contains("outer ring crosses itself"), "{e}");
    assert!(e.message.contains("[114.05"), "names the point: {e}");

    // Not closed: named, not silently closed.
    let e = one_error(j(
        "[[[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.6]]]",
    ));
    assert!(e.message.contains("is not closed"), "{e}");
    assert!(e.message.contains("[114, 22.6]"), "{e}");
    assert!(e.hint.unwrap().contains("RFC 7946"));

    // A hole outside its polygon, named with a point outside.
    let outside = "[[114.2, 22.52], [114.24, 22.52], [114.24, 22.54], [114.2, 22.52]]";
    let e = one_error(j(&format!("[{square}, {outside}]")));
    assert!(
        e.message.contains("hole 0 lies outside the outer ring"),
        "{e}"
    );
    assert!(e.message.contains("at [114.2, 22.52]"), "{e}");
}

#[test]
fn an_empty_jurisdictions_file_needs_an_explicit_opt_in() {
    let empty = "{\"type\": \"FeatureCollection\", \"features\": []}";
    let assemble = |node_text: &str| {
        Settings::assemble(
            node(node_text).unwrap(),
            cameras(CAMERAS).unwrap(),
            Jurisdictions::parse(empty, Path::new("j.geojson")).unwrap(),
            Path::new("xueliang.toml"),
        )
    };
    let e = one_error(assemble(NODE));
    assert_eq!(e.key, "features");
    assert!(
        e.message.contains("every alert would go to the centre"),
        "{e}"
    );
    assert!(e.hint.unwrap().contains("allow_empty_jurisdictions = true"));
    assemble(&NODE.replace(
        "jurisdictions = \"jurisdictions.geojson\"",
        "jurisdictions = \"jurisdictions.geojson\"\nallow_empty_jurisdictions = true",
    ))
    .unwrap();
}

#[test]
fn every_camera_survives_the_inventory_topic_unchanged() {
    let from_file = cameras(CAMERAS).unwrap();
    let records = Inventory::records(CAMERAS, Path::new("cameras.toml")).unwrap();
    assert_eq!(records.len(), from_file.cameras.len());
    for r in &records {
        let back = Inventory::parse_record(&r.value, Path::new("topic"), &no_env).unwrap();
        assert_eq!(&back.id, &r.id);
        // Defaults are folded into the record, so the camera is the file's, exactly.
        assert_eq!(Some(&back), from_file.camera(&r.id), "{}", r.id);
    }
    // Deterministic bytes: publishing the same file twice changes nothing.
    assert_eq!(
        records,
        Inventory::records(CAMERAS, Path::new("cameras.toml")).unwrap()
    );
    // A changed default changes the records of the cameras that use it, and only those.
    let changed = CAMERAS.replace("frozen_s = 30", "frozen_s = 31");
    let after = Inventory::records(&changed, Path::new("cameras.toml")).unwrap();
    assert!(records.iter().zip(&after).all(|(a, b)| a.value != b.value));
}

#[test]
fn records_keep_password_env_unresolved_and_invalid_records_are_named() {
    let text = CAMERAS.replacen(
        "tier = \"police\"",
        "tier = \"police\"\nusername = \"admin\"\npassword_env = \"CAM1_PASSWORD\"",
        1,
    );
    // The variable does not exist where the inventory is published…
    let records = Inventory::records(&text, Path::new("cameras.toml")).unwrap();
    let value = String::from_utf8(records[0].value.clone()).unwrap();
    assert!(value.contains("CAM1_PASSWORD"), "{value}");
    // …and an edge without it refuses that camera with a named error.
    let e = one_error(Inventory::parse_record(
        &records[0].value,
        Path::new("xueliang.cameras (partition 0, offset 7, key 1)"),
        &no_env,
    ));
    assert_eq!(e.key, "password_env");
    assert!(e.to_string().contains("offset 7"), "{e}");
    let with_env = |k: &str| (k == "CAM1_PASSWORD").then(|| "s3cret".to_string());
    let cam = Inventory::parse_record(&records[0].value, Path::new("t"), &with_env).unwrap();
    assert_eq!(
        cam.credentials.unwrap().password.expose(),
        "s3cret",
        "resolved on the edge"
    );

    let e = one_error(Inventory::parse_record(
        br#"{"id":"c1","name":"x","url":"http://x/","location":{"lat":1,"lon":2},"tier":"police"}"#,
        Path::new("t"),
        &no_env,
    ));
    assert_eq!(e.key, "url");
    let e = one_error(Inventory::parse_record(
        b"{\"id\": 3}",
        Path::new("t"),
        &no_env,
    ));
    assert_eq!(e.key, "id");
    assert!(e.hint.unwrap().contains("cameras apply"));
}

#[test]
fn the_cluster_section_is_checked() {
    let n = node(NODE).unwrap();
    assert_eq!(n.cluster.cameras, CameraSource::File);
    assert_eq!(n.cluster.timeout_beats(), 5);
    let e = one_error(node(
        &NODE.replace("cameras = \"file\"", "cameras = \"etcd\""),
    ));
    assert_eq!(e.key, "cluster.cameras");
    let e = one_error(node(
        &NODE.replace("node_timeout_s = 5", "node_timeout_s = 2"),
    ));
    assert_eq!(e.key, "cluster.node_timeout_s");
    assert!(e.to_string().contains("three heartbeats"), "{e}");
    let e = one_error(node(&NODE.replace(
        "nodes_topic = \"xueliang.nodes\"",
        "nodes_topic = \"xueliang.alerts\"",
    )));
    assert_eq!(e.key, "kafka.nodes_topic");
    let e = one_error(node(&NODE.replace(
        "status_topic = \"xueliang.camera-status\"",
        "status_topic = \"xueliang.alerts\"",
    )));
    assert_eq!(e.key, "kafka.status_topic");
}

#[test]
fn the_unwatched_limit_must_outlast_a_takeover() {
    // 5 s node timeout + two 2 s status intervals + 5 s to connect = 14 s.
    let e = one_error(node(
        &NODE.replace("unwatched_after_s = 30", "unwatched_after_s = 13"),
    ));
    assert_eq!(e.key, "cluster.unwatched_after_s");
    assert!(e.to_string().contains("normal takeover"), "{e}");
    assert!(e.to_string().contains("at least 14"), "{e}");
    let n = node(&NODE.replace("unwatched_after_s = 30", "unwatched_after_s = 14")).unwrap();
    assert_eq!(n.cluster.unwatched_after, Some(Duration::from_secs(14)));
    let n = node(&NODE.replace("unwatched_after_s = 30", "unwatched_after_s = 0")).unwrap();
    assert_eq!(n.cluster.unwatched_after, None, "0 turns the check off");
    let e = one_error(node(
        &NODE.replace("status_interval_ms = 2000", "status_interval_ms = 50"),
    ));
    assert_eq!(e.key, "cluster.status_interval_ms");
}

#[test]
fn the_database_password_comes_from_a_variable_on_postgres_only() {
    let pg = |url: &str, extra: &str| {
        NODE.replace(
            "database = \"sqlite://dispatcher.db\"",
            &format!("database = \"{url}\"\n{extra}"),
        )
    };
    let n = node(&pg(
        "postgres://xueliang@db/xueliang",
        "database_password_env = \"XUELIANG_DB_PASSWORD\"",
    ))
    .unwrap();
    assert_eq!(
        n.dispatcher.database_password_env.as_deref(),
        Some("XUELIANG_DB_PASSWORD")
    );
    let e = one_error(node(&pg(
        "postgres://xueliang:hunter2@db/xueliang",
        "database_password_env = \"XUELIANG_DB_PASSWORD\"",
    )));
    assert_eq!(e.key, "dispatcher.database_password_env");
    assert!(e.to_string().contains("has a password too"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = one_error(node(&pg(
        "sqlite://d.db",
        "database_password_env = \"XUELIANG_DB_PASSWORD\"",
    )));
    assert!(e.to_string().contains("SQLite"), "{e}");
    let e = one_error(node(&pg(
        "postgres://xueliang@db/xueliang",
        "database_password_env = \"$PW\"",
    )));
    assert!(
        e.to_string().contains("not an environment variable name"),
        "{e}"
    );
}

#[test]
fn a_station_silence_is_bounded_below_the_centres() {
    let n = node(NODE).unwrap();
    assert_eq!(
        n.dispatcher.max_station_silence,
        Duration::from_secs(4 * 3600)
    );
    let e = one_error(node(&NODE.replace(
        "max_station_silence_s = 14400",
        "max_station_silence_s = 999999999",
    )));
    assert_eq!(e.key, "dispatcher.max_station_silence_s");
}

#[test]
fn a_node_name_from_the_command_line_renames_the_dispatchers_client() {
    let mut n = node(NODE).unwrap();
    n.dispatcher.rename_node("dispatcher-2");
    assert_eq!(n.dispatcher.instance_id, "dispatcher-2-dispatcher");
    let mut n = node(&NODE.replace(
        "group_id = \"dispatcher\"",
        "group_id = \"dispatcher\"\ninstance_id = \"fixed\"",
    ))
    .unwrap();
    n.dispatcher.rename_node("dispatcher-2");
    assert_eq!(
        n.dispatcher.instance_id, "fixed",
        "the file's choice stands"
    );
}
