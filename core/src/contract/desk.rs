use crate::DeskId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A desk that receives incidents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeskV1 {
    pub id: DeskId,
    /// e.g. 福田派出所三中心合一指挥台
    pub name: String,
    pub kind: DeskKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeskKind {
    /// A police station's 三中心合一 desk; sees only its own incidents.
    Station,
    /// The district command centre: sees everything, the fallback route and escalation target.
    Centre,
    /// A work queue such as video-monitoring maintenance (视频监控运维).
    Queue,
}

/// The area a desk is responsible for (a police station's 辖区, or a grid).
/// The polygons themselves live in the jurisdictions GeoJSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionV1 {
    pub id: String,
    pub name: String,
    pub desk_id: DeskId,
}

/// The command centre's duty level (勤务等级). Raises priorities and shortens escalation SLAs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DutyLevel {
    /// 平时
    Normal,
    /// 特殊时期
    Special,
    /// 战时
    Wartime,
}
