//! The JSON Schemas in deploy/schema/ are the published contract. They are generated from
//! the Rust types; this test fails when the code and the checked-in files disagree, so a
//! contract change is always a visible diff. Regenerate with
//! `UPDATE_SCHEMAS=1 cargo test -p xueliang-core --test schema_drift` (or `xueliang schema --out deploy/schema`).

use std::path::PathBuf;

#[test]
fn checked_in_schemas_match_the_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/schema");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut drifted = Vec::new();
    for (name, schema) in xueliang_core::contract::schemas() {
        let want = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            Ok(_) => drifted.push(format!("{name} differs from the code")),
            Err(e) => drifted.push(format!("{name} cannot be read: {e}")),
        }
    }
    assert!(
        drifted.is_empty(),
        "contract schemas drifted: {drifted:?}\nIf the change is intended, regenerate with \
         UPDATE_SCHEMAS=1 cargo test -p xueliang-core --test schema_drift and review the diff."
    );
}

#[test]
fn alert_schema_names_every_required_field() {
    let schema =
        serde_json::to_value(schemars::schema_for!(xueliang_core::contract::AlertV1)).unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in [
        "schema_version",
        "alert_id",
        "camera_id",
        "event_type",
        "severity",
        "rule_id",
        "captured_at",
        "detected_at",
        "published_at",
    ] {
        assert!(
            required.contains(&f),
            "{f} missing from required: {required:?}"
        );
    }
    // Within v1 a reader accepts optional fields it does not know (the rule on AlertV1).
    assert_ne!(schema["additionalProperties"], serde_json::json!(false));
}
