use crate::{CameraId, DeskId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A camera as other components and the desk API see it: the inventory entry without its
/// stream URL credentials and rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraV1 {
    pub id: CameraId,
    pub name: String,
    pub location: GeoPoint,
    /// 网格 (grid) id of the community grid the camera sits in, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    pub tier: OwnerTier,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Explicit desk that owns this camera, overriding the jurisdiction polygons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk_override: Option<DeskId>,
}

/// WGS-84 coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    #[schemars(range(min = -90.0, max = 90.0))]
    pub lat: f64,
    #[schemars(range(min = -180.0, max = 180.0))]
    pub lon: f64,
}

/// Who owns and maintains the camera, in 雪亮工程's tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerTier {
    /// Public-security cameras (公安自建).
    Police,
    /// District or town government (区县/乡镇).
    District,
    Town,
    /// Village or residential community (村/社区).
    Village,
    /// Enterprises and shops connected to the network (社会资源).
    Enterprise,
}

impl OwnerTier {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerTier::Police => "police",
            OwnerTier::District => "district",
            OwnerTier::Town => "town",
            OwnerTier::Village => "village",
            OwnerTier::Enterprise => "enterprise",
        }
    }
}
