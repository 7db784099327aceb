//! deploy/ROUTING.md is executable: every `toml` block holding `[dispatcher.route]` is appended
//! to the single-node demo's xueliang.toml and must load, and every row of the
//! `| camera | event | severity | primary | copies | reason |` table that follows it must be
//! what the router decides for the demo's cameras and jurisdictions.

use chrono::Utc;
use xueliang_core::CameraId;
use xueliang_core::config::NodeConfig;
use xueliang_core::contract::{AlertV1, EventType, Severity};
use xueliang_dispatcher::routing::Router;
use xueliang_testkit::deploy;

struct Example {
    /// 1-based line of the code block in ROUTING.md, for failure messages.
    line: usize,
    toml: String,
    rows: Vec<(usize, String)>,
}

fn examples(md: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut block: Option<(usize, String)> = None;
    let mut in_other_block = false;
    let mut in_table = false;
    for (i, line) in md.lines().enumerate() {
        let n = i + 1;
        if let Some((start, text)) = &mut block {
            if line.trim_start().starts_with("```") {
                if text.contains("[dispatcher.route]") {
                    out.push(Example {
                        line: *start,
                        toml: std::mem::take(text),
                        rows: Vec::new(),
                    });
                }
                block = None;
            } else {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        if in_other_block {
            in_other_block = !line.trim_start().starts_with("```");
            continue;
        }
        if line.trim_start().starts_with("```toml") {
            block = Some((n, String::new()));
            continue;
        }
        if line.trim_start().starts_with("```") {
            in_other_block = true;
            continue;
        }
        if line.starts_with("| camera |") {
            in_table = true;
            continue;
        }
        if in_table && line.starts_with('|') {
            if !line.starts_with("|---") {
                let ex = out
                    .last_mut()
                    .unwrap_or_else(|| panic!("ROUTING.md:{n}: table before any example"));
                ex.rows.push((n, line.to_string()));
            }
            continue;
        }
        in_table = false;
    }
    out
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str, at: &str) -> T {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .unwrap_or_else(|e| panic!("{at}: {s:?}: {e}"))
}

#[test]
fn every_example_in_routing_md_loads_and_routes_as_documented() {
    let md_file = deploy::repo().join("deploy/ROUTING.md");
    let md =
        std::fs::read_to_string(&md_file).unwrap_or_else(|e| panic!("{}: {e}", md_file.display()));
    // The demo config has its own route tree; each example replaces it. The tree is the
    // file's last section, so cutting from its header keeps everything else.
    let (full, node_file) = deploy::read("xueliang.toml");
    let base = match full.find("[dispatcher.route]") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    assert!(
        !base.contains("dispatcher.route"),
        "the route tree must be the last section of the demo config"
    );
    let single = deploy::single_node();
    let (jurisdictions, inventory) = (single.jurisdictions, single.inventory);

    let examples = examples(&md);
    assert_eq!(examples.len(), 5, "examples found in ROUTING.md");
    let mut checked = 0;
    for ex in &examples {
        let at = format!("ROUTING.md:{}", ex.line);
        let node = NodeConfig::parse(&format!("{base}\n{}", ex.toml), &node_file)
            .unwrap_or_else(|e| panic!("{at}: example does not load:\n{e}"));
        let router = Router::new(&node, &jurisdictions)
            .unwrap_or_else(|e| panic!("{at}: router does not build:\n{e}"));
        assert!(!ex.rows.is_empty(), "{at}: example has no outcome table");
        for (n, row) in &ex.rows {
            let at = format!("ROUTING.md:{n}");
            let cells: Vec<&str> = row
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            assert_eq!(cells.len(), 6, "{at}: {row}");
            let digits = cells[0]
                .split('…')
                .nth(1)
                .and_then(|s| s.split('`').next())
                .unwrap_or_else(|| panic!("{at}: camera cell must start with `…NNNN`"));
            let camera = inventory
                .cameras
                .iter()
                .find(|c| c.id.as_str().ends_with(digits));
            let camera_id = camera
                .map(|c| c.id.clone())
                .unwrap_or_else(|| CameraId::new(format!("unknown-{digits}")).unwrap());
            let event: EventType = parse_enum(cells[1], &at);
            let severity: Severity = parse_enum(cells[2], &at);
            let alert = AlertV1::new(camera_id, event, severity, "doc", Utc::now());
            let d = router.route(&alert, camera);

            let copies: Vec<&str> = d.copies.iter().map(|c| c.as_str()).collect();
            let want_copies: Vec<&str> = match cells[4] {
                "—" => vec![],
                s => s.split(',').map(str::trim).collect(),
            };
            let got = (d.primary.as_str(), copies, d.reason.as_str());
            let want = (
                cells[3],
                want_copies,
                cells[5].split_whitespace().next().unwrap(),
            );
            assert_eq!(got, want, "{at}: {row}\ndecision: {d:?}");
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} rows checked");
}
