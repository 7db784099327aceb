//! Reads the configuration files from disk and hands their text to `xueliang_core::config`,
//! which owns all parsing and validation (and does no I/O itself).

use std::path::Path;
use xueliang_core::config::{
    ConfigError, ConfigErrors, Inventory, Jurisdictions, NodeConfig, Settings,
};

fn read(path: &Path, what: &str) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(path, "", format!("cannot read the {what}: {e}"))
            .hint("check the path (relative paths in xueliang.toml are relative to that file)")
            .into()
    })
}

/// Whether the process connects to cameras, and so needs the passwords that the inventory's
/// `password_env` variables hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraCredentials {
    /// An edge (and `check-config`, which checks what an edge needs): a missing variable is
    /// an error naming the camera.
    Resolve,
    /// A dispatcher or a tool: the cameras' place and rules are needed, their passwords
    /// are not, so a dispatcher's machine needs none of the edges' secrets.
    NotNeeded,
}

/// Loads xueliang.toml and the files it names, reporting every error it can find, with the
/// cameras' passwords resolved from the environment.
pub fn load(path: &Path) -> Result<Settings, ConfigErrors> {
    load_for(path, CameraCredentials::Resolve)
}

/// [`load`], resolving camera passwords only where `credentials` says they are needed.
pub fn load_for(path: &Path, credentials: CameraCredentials) -> Result<Settings, ConfigErrors> {
    let node = NodeConfig::parse(&read(path, "node configuration")?, path)?;
    let mut errors = Vec::new();
    let env = |k: &str| match credentials {
        CameraCredentials::Resolve => std::env::var(k).ok(),
        CameraCredentials::NotNeeded => Some(String::new()),
    };
    let inventory = read(&node.cameras_file, "camera inventory")
        .and_then(|t| Inventory::parse(&t, &node.cameras_file, &env));
    let jurisdictions = read(&node.jurisdictions_file, "jurisdictions GeoJSON")
        .and_then(|t| Jurisdictions::parse(&t, &node.jurisdictions_file));
    let (inventory, jurisdictions) = match (inventory, jurisdictions) {
        (Ok(i), Ok(j)) => (i, j),
        (i, j) => {
            for r in [i.err(), j.err()].into_iter().flatten() {
                errors.extend(r.0);
            }
            return Err(ConfigErrors(errors));
        }
    };
    let result = Settings::assemble(node, inventory, jurisdictions, path);
    if let Err(e) = &result {
        for err in &e.0 {
            metrics::counter!(xueliang_core::metrics::CONFIG_ERRORS, "file" => err.file.display().to_string()).increment(1);
        }
    }
    result
}
