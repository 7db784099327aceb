//! The harness's contract with its users (figures are not asserted: benchmarks live in
//! benches/RESULTS.md, not in tests): each bench runs, and its last stdout line is one JSON
//! object with the fields its issue names.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xueliang-bench"))
}

/// The repository root: the benches read the single-node deployment relative to it.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the harness from the repository root (logs at warn); asserts it succeeded and returns
/// the JSON object of its last stdout line, with the whole stdout.
fn run(args: &[&str]) -> (serde_json::Value, String) {
    let out = bin()
        .args(args)
        .current_dir(repo())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (v, stdout)
}

/// Smoke check of the benchmark commands' contract (figures are not asserted: benchmarks
/// live in benches/RESULTS.md, not in tests): the last stdout line is one JSON object with
/// the fields the issue names.
#[test]
fn bench_commands_end_with_one_json_object() {
    let last_json = |args: &[&str]| run(args).0;
    let v = last_json(&["decode", "--clip", "vtest", "--loops", "1"]);
    for k in ["stage_fps", "raw_fps", "ratio"] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k} in {v}");
    }
    let v = last_json(&[
        "ingest",
        "--cameras",
        "8",
        "--seconds",
        "2",
        "--clip",
        "vtest",
    ]);
    for k in [
        "cameras",
        "seconds",
        "frames_expected",
        "frames_received",
        "cpu_us_per_frame",
        "rss_mb_per_camera",
    ] {
        assert!(v[k].is_number(), "{k} in {v}");
    }
    assert_eq!(v["cameras"], 8);
    assert!(v["frames_received"].as_u64().unwrap() > 0, "{v}");
    let v = last_json(&["detect", "--seconds", "0.5"]);
    for k in ["batch", "stage_fps", "raw_fps", "ratio", "cpu_ms_per_frame"] {
        assert!(v[k].is_number(), "{k} in {v}");
    }
    assert_eq!(v["batches"].as_array().unwrap().len(), 3, "{v}");
}

/// `bench e2e --quick`: the whole pipeline (camsim, tansu, edge, dispatcher) for one small
/// step per sampling policy; the last stdout line is the JSON summary with the fields issue
/// #7 names, and the files it names exist. Figures are not asserted.
#[test]
fn bench_e2e_quick_ends_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (v, stdout) = run(&["e2e", "--quick", "--max-cameras", "4", "--out", out]);
    assert_eq!(v["bench"], "e2e");
    for policy in ["keyframes", "fps1", "fps5"] {
        assert!(v["max_cameras"][policy].is_u64(), "{policy} in {v}");
        assert!(v["cpu_per_camera"][policy].is_number(), "{policy} in {v}");
        assert!(v["policies"][policy]["steps"].as_array().unwrap().len() == 1);
    }
    // Present (a missing key fails; `v[k]` would read it as null), and a positive number
    // unless no alert reached a desk in the quick run's short window (then null).
    for k in ["p50_ms", "p95_ms", "p99_ms"] {
        let ms = v.get(k).unwrap_or_else(|| panic!("{k} missing in {v}"));
        assert!(
            ms.is_null() || ms.as_f64().is_some_and(|ms| ms > 0.0),
            "{k} in {v}"
        );
    }
    for k in ["decode", "detect", "publish", "dispatch"] {
        assert!(v["ratios"].get(k).is_some(), "ratios.{k} in {v}");
    }
    for k in ["decode", "ort", "broker"] {
        assert!(!v["limits"][k].is_null(), "limits.{k} in {v}");
    }
    for f in [
        "bench-e2e.json",
        "report.md",
        "cpu-per-stage.svg",
        "latency-cdf.svg",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} not written");
    }
    assert!(stdout.contains("| policy | max cameras |"), "{stdout}");
}

/// `bench dispatch` against its own broker: the last line is one JSON object with the figures
/// the issue names, and every alert of the latency phase came back as one push.
#[test]
fn bench_dispatch_ends_with_one_json_object() {
    let (v, _) = run(&[
        "dispatch",
        "--alerts",
        "300",
        "--rate",
        "200",
        "--seconds",
        "1",
    ]);
    assert_eq!(v["alerts"], 300, "{v}");
    assert_eq!(v["database"], "sqlite", "{v}");
    for k in [
        "alerts_per_s",
        "raw_consume_per_s",
        "ratio",
        "p50_ms",
        "p95_ms",
        "p99_ms",
    ] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k} in {v}");
    }
    assert_eq!(v["latency_alerts"], 200, "{v}");
    assert_eq!(v["pushes"], 200, "one push per alert: {v}");
}

/// `publish` against its own broker: the publish path and the raw produce limit in one run,
/// every alert acknowledged (nothing left in the spool, or the bench fails).
#[test]
fn bench_publish_ends_with_one_json_object() {
    let (v, _) = run(&["publish", "--alerts", "300"]);
    assert_eq!(v["bench"], "publish", "{v}");
    assert_eq!(v["alerts"], 300, "{v}");
    for k in ["alerts_per_s", "raw_produce_per_s", "ratio", "alert_bytes"] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k} in {v}");
    }
}

/// `bench cluster` (the full run takes minutes and `--quick` about two, so neither runs here;
/// the JSON line and its percentiles are unit-tested in the bench): its flags parse, and it
/// fails at once, with the fix, on bad flags, a missing `xueliang` binary or no PostgreSQL —
/// before it starts any process.
#[test]
fn bench_cluster_flags_parse_and_it_fails_fast_with_the_fix() {
    let out = bin().args(["cluster", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--quick",
        "--kills",
        "--cameras",
        "--edges",
        "--window",
        "--sampling",
        "--xueliang",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    let fails = |args: &[&str], env_pg: bool| {
        let mut cmd = bin();
        cmd.arg("cluster").args(args).current_dir(repo());
        if !env_pg {
            cmd.env_remove("XUELIANG_TEST_PG");
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fails(&["--edges", "1"], true);
    assert!(e.contains("--edges must be at least 2"), "{e}");
    let e = fails(&["--quick", "--sampling", "fast"], true);
    assert!(e.contains("--sampling"), "{e}");
    let e = fails(&["--xueliang", "/nonexistent/xueliang"], true);
    assert!(e.contains("cargo build --release -p xueliang"), "{e}");
    // Any existing file passes the binary check; then the missing server names its fix.
    let e = fails(
        &[
            "--quick",
            "--xueliang",
            env!("CARGO_BIN_EXE_xueliang-bench"),
        ],
        false,
    );
    assert!(e.contains("XUELIANG_TEST_PG"), "{e}");
}
