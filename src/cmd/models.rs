//! `xueliang models list|fetch`. The fetch/convert/verify scripts of `models/` (and the
//! manifests they read) are embedded in the binary, so an installed binary can fetch a model without a
//! checkout: they are written to a versioned folder under the cache and run from there.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use xueliang_analyzer::model;
use xueliang_core::paths;

/// (path relative to models/, contents). Keep in step with the folder.
const FILES: &[(&str, &str)] = &[
    ("fetch.sh", include_str!("../../models/fetch.sh")),
    ("convert.py", include_str!("../../models/convert.py")),
    ("verify.py", include_str!("../../models/verify.py")),
    ("smoke.py", include_str!("../../models/smoke.py")),
    (
        "nanodet-m-416/manifest.toml",
        include_str!("../../models/nanodet-m-416/manifest.toml"),
    ),
    (
        "nanodet-m-416/NOTICE",
        include_str!("../../models/nanodet-m-416/NOTICE"),
    ),
    (
        "nanodet-m-416/reference_frame300.json",
        include_str!("../../models/nanodet-m-416/reference_frame300.json"),
    ),
];

pub fn list() -> anyhow::Result<ExitCode> {
    // The manifests the analyzer was built with, resolved by the analyzer's own rule, so
    // "ready" here means exactly "the analyzer will load it".
    for name in model::builtin_names() {
        let spec = model::builtin_manifest(name)?;
        let [w, h] = spec.input_size;
        let summary = format!("{w}x{h} input, {} classes", spec.num_classes);
        match model::resolve_model(name, None) {
            Ok(m) => {
                println!("{name:<16} {:<7} ready     {summary}", spec.version);
                println!("{:<16} {}", "", m.onnx.display());
            }
            Err(_) => {
                println!("{name:<16} {:<7} missing   {summary}", spec.version);
                println!("{:<16} fetch with: xueliang models fetch {name}", "");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn fetch(name: &str) -> anyhow::Result<ExitCode> {
    if !model::builtin_names().any(|n| n == name) {
        bail!(
            "unknown model {name:?}; known: {}",
            model::builtin_names().collect::<Vec<_>>().join(", ")
        );
    }
    let scripts = unpack_scripts()?;
    let out = Command::new("bash")
        .arg(scripts.join("fetch.sh"))
        .arg(name)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running bash (is it installed?)")?;
    if !out.status.success() {
        bail!("fetching {name} failed (see the [models] lines above)");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().unwrap_or("").trim();
    println!("{path}");
    Ok(ExitCode::SUCCESS)
}

/// Writes the embedded scripts to `<cache>/scripts/models-<hash>/` once per content version.
fn unpack_scripts() -> anyhow::Result<PathBuf> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (p, text) in FILES {
        for b in p.bytes().chain(text.bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    let dir = paths::cache_dir()
        .join("scripts")
        .join(format!("models-{h:016x}"));
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    for (p, text) in FILES {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(dir.join(".complete"), b"")?;
    Ok(dir)
}
