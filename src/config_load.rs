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

/// Loads xueliang.toml and the files it names, reporting every error it can find.
pub fn load(path: &Path) -> Result<Settings, ConfigErrors> {
    let node = NodeConfig::parse(&read(path, "node configuration")?, path)?;
    let mut errors = Vec::new();
    let inventory = read(&node.cameras_file, "camera inventory")
        .and_then(|t| Inventory::parse(&t, &node.cameras_file, &|k| std::env::var(k).ok()));
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
