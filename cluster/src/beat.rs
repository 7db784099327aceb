//! The heartbeat record on the nodes topic: key = `{role}/{node}`, value = [`BeatV1`] as JSON,
//! no value (a tombstone) when the node leaves cleanly.

use serde::{Deserialize, Serialize};

/// What a node does in the cluster; each role divides its own work among its own members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Runs cameras (divides the camera inventory).
    Edge,
    /// Consumes alerts (divides the alert partitions).
    Dispatcher,
}

impl NodeRole {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Edge => "edge",
            NodeRole::Dispatcher => "dispatcher",
        }
    }
}

/// One heartbeat. Unknown fields are ignored so a newer node's beats are read by an older one
/// during a rolling upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatV1 {
    pub node: String,
    pub role: NodeRole,
    /// Cameras (edge) or partitions (dispatcher) this node can take: its weight.
    pub capacity: u32,
    /// The xueliang version the node runs.
    pub version: String,
    /// When this process started (ms since the epoch): tells a restart from a long silence
    /// in `cameras list`. Never compared with another machine's clock.
    pub incarnation_ms: i64,
    /// Counts this process's heartbeats, from 1.
    pub seq: u64,
    /// The node's `/metrics` and `/healthz` address, for operators.
    #[serde(default)]
    pub http: Option<String>,
}

impl BeatV1 {
    /// The first heartbeat of this process as `role` (the writer numbers beats from 1).
    pub fn new(node: &str, role: NodeRole, capacity: u32) -> BeatV1 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        BeatV1 {
            node: node.to_string(),
            role,
            capacity,
            version: env!("CARGO_PKG_VERSION").into(),
            incarnation_ms: now.as_millis().min(i64::MAX as u128) as i64,
            seq: 0,
            http: None,
        }
    }

    /// The record key: one per role and node, so a node running both roles beats twice.
    pub fn key(&self) -> String {
        key(self.role, &self.node)
    }
}

pub fn key(role: NodeRole, node: &str) -> String {
    format!("{}/{node}", role.as_str())
}
