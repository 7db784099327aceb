//! The shipped single-node deployment (`deploy/single-node`: `xueliang.toml`, `cameras.toml`,
//! `jurisdictions.geojson`), read and parsed the way `xueliang check-config` does, for tests
//! that route or store with the real example configuration.

use std::path::{Path, PathBuf};
use xueliang_core::config::{Inventory, Jurisdictions, NodeConfig};

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives one level below the workspace root")
        .to_owned()
}

/// `deploy/single-node`.
pub fn single_node_dir() -> PathBuf {
    repo().join("deploy/single-node")
}

/// The text and path of one file of `deploy/single-node`; panics naming the file.
pub fn read(file: &str) -> (String, PathBuf) {
    let p = single_node_dir().join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (text, p)
}

/// The single-node deployment, parsed.
#[derive(Debug)]
pub struct SingleNode {
    pub node: NodeConfig,
    pub inventory: Inventory,
    pub jurisdictions: Jurisdictions,
}

/// Parses `deploy/single-node`; every camera credential reference resolves to
/// `"test-secret"`. Panics with the configuration errors (file, key, fix) if it is invalid.
pub fn single_node() -> SingleNode {
    let (t, p) = read("xueliang.toml");
    let node = NodeConfig::parse(&t, &p).unwrap_or_else(|e| panic!("{e}"));
    let (t, p) = read("cameras.toml");
    let inventory =
        Inventory::parse(&t, &p, &|_| Some("test-secret".into())).unwrap_or_else(|e| panic!("{e}"));
    let (t, p) = read("jurisdictions.geojson");
    let jurisdictions = Jurisdictions::parse(&t, &p).unwrap_or_else(|e| panic!("{e}"));
    SingleNode {
        node,
        inventory,
        jurisdictions,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_single_node_deployment_loads() {
        let d = super::single_node();
        assert!(!d.inventory.cameras.is_empty());
        assert!(!d.jurisdictions.areas.is_empty());
        assert!(!d.node.desks.is_empty());
    }
}
