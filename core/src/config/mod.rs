//! Configuration: `xueliang.toml` (the node), the camera inventory (`cameras.toml`) and the
//! jurisdictions (`jurisdictions.geojson`).
//!
//! Each file is parsed into raw serde structs that deny unknown keys, then validated into
//! checked types. Errors name the file, the key path and what to change, and all of a file's
//! errors are reported at once. Cross-file rules (a camera's desk must exist, a jurisdiction's
//! desk must exist) are checked in [`Settings::assemble`].

mod error;
mod inventory;
mod jurisdictions;
mod node;
mod routes;
mod rules;
mod secret;

pub use error::{ConfigError, ConfigErrors};
pub use inventory::*;
pub use jurisdictions::*;
pub use node::*;
pub use routes::*;
pub use rules::*;
pub use secret::Secret;

use std::path::Path;

/// The whole validated configuration of a node.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: NodeConfig,
    pub inventory: Inventory,
    pub jurisdictions: Jurisdictions,
}

impl Settings {
    /// Checks the rules that span files. `node_file` is used to name the file in errors.
    pub fn assemble(
        node: NodeConfig,
        inventory: Inventory,
        jurisdictions: Jurisdictions,
        node_file: &Path,
    ) -> Result<Settings, ConfigErrors> {
        let mut errs = inventory_desk_errors(&node, &inventory, node_file);
        if jurisdictions.areas.is_empty() && !node.allow_empty_jurisdictions {
            errs.push(
                ConfigError::new(
                    &jurisdictions.file,
                    "features",
                    "holds no jurisdiction: every alert would go to the centre as unroutable",
                )
                .hint(format!(
                    "add the police stations' polygons, or, if routing by camera desk and \
                     routes alone is intended, set allow_empty_jurisdictions = true under \
                     [inventory] in {}",
                    node_file.display()
                )),
            );
        }
        for (i, j) in jurisdictions.areas.iter().enumerate() {
            if node.desk(&j.desk_id).is_none() {
                errs.push(
                    ConfigError::new(
                        &jurisdictions.file,
                        format!("features[{i}].properties.desk_id"),
                        format!(
                            "jurisdiction `{}` names desk `{}`, which is not defined",
                            j.id, j.desk_id
                        ),
                    )
                    .hint(format!(
                        "add a [[desk]] with id = \"{}\" to {}",
                        j.desk_id,
                        node_file.display()
                    )),
                );
            }
        }
        if errs.is_empty() {
            Ok(Settings {
                node,
                inventory,
                jurisdictions,
            })
        } else {
            Err(ConfigErrors(errs))
        }
    }
}

/// Cameras that name a desk the node configuration does not define (`check-config` and
/// `cameras apply` report the same errors).
pub fn inventory_desk_errors(
    node: &NodeConfig,
    inventory: &Inventory,
    node_file: &Path,
) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    for (i, cam) in inventory.cameras.iter().enumerate() {
        if let Some(desk) = &cam.desk_override
            && node.desk(desk).is_none()
        {
            errs.push(
                ConfigError::new(
                    &inventory.file,
                    format!("camera[{i}].desk"),
                    format!(
                        "camera {} names desk `{desk}`, which is not defined",
                        cam.id
                    ),
                )
                .hint(format!(
                    "add a [[desk]] with id = \"{desk}\" to {} or fix the id",
                    node_file.display()
                )),
            );
        }
    }
    errs
}
