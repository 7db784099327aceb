//! Where the expensive, versioned artefacts live (models, ONNX Runtime, broker, clips).
//! Reads environment variables only; creating or reading files is left to the caller.

use std::path::PathBuf;

/// `$XUELIANG_CACHE`, else `$XDG_CACHE_HOME/xueliang`, else `~/.cache/xueliang` — the same rule
/// as `./xl` and `models/fetch.sh`.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("XUELIANG_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("xueliang");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache").join("xueliang")
}

/// The directory a fetched model is verified into: `<cache>/models/<name>-<version>/`.
pub fn model_dir(name: &str, version: &str) -> PathBuf {
    cache_dir().join("models").join(format!("{name}-{version}"))
}
