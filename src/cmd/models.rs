//! `xueliang models list|fetch`. The manifests and the fetch/convert/verify scripts of
//! `models/` are embedded in the binary, so an installed binary can fetch a model without a
//! checkout: they are written to a versioned folder under the cache and run from there.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
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

#[derive(serde::Deserialize)]
struct ManifestHead {
    name: String,
    version: String,
    description: String,
}

fn manifests() -> anyhow::Result<Vec<ManifestHead>> {
    FILES
        .iter()
        .filter(|(p, _)| p.ends_with("/manifest.toml"))
        .map(|(p, text)| {
            // Only the head is read here; the analyzer reads the full spec.
            let v: toml::Table = toml::from_str(text).with_context(|| format!("models/{p}"))?;
            let get = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            Ok(ManifestHead {
                name: get("name"),
                version: get("version"),
                description: get("description"),
            })
        })
        .collect()
}

pub fn list() -> anyhow::Result<ExitCode> {
    for m in manifests()? {
        let dir = paths::model_dir(&m.name, &m.version);
        let ready = dir.join(".verified").exists();
        println!(
            "{:<16} {:<7} {:<9} {}",
            m.name,
            m.version,
            if ready { "ready" } else { "missing" },
            m.description
        );
        if ready {
            println!("{:<16} {}", "", dir.join("model.onnx").display());
        } else {
            println!("{:<16} fetch with: xueliang models fetch {}", "", m.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn fetch(name: &str) -> anyhow::Result<ExitCode> {
    if !manifests()?.iter().any(|m| m.name == name) {
        bail!(
            "unknown model {name:?}; known: {}",
            manifests()?
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
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
