//! Who is alive, judged from the nodes topic alone — the same answer on every node.
//!
//! A node is **gone** once the other nodes have written `timeout_beats` heartbeats after its
//! latest one (for any single other node; a tombstone removes it at once). Time is counted in
//! heartbeats in the log's order, not read from clocks:
//! - no clock comparison between machines (tansu 0.6.0 does not stamp records with
//!   `LogAppendTime`, so producer timestamps would be the nodes' own clocks);
//! - every node that has read the topic to the same offset computes the same live set,
//!   so assignment is a function of the log;
//! - while the broker is down for everyone, nobody's beats land, so nobody is judged gone
//!   and nobody's cameras move: an outage pauses assignment and nothing else;
//! - a node that cannot write while the others can sees their beats pile up after its own
//!   latest: at half the timeout it stops claiming its cameras (**self-fencing**), before
//!   anyone else may take them at the full timeout.
//!
//! After log compaction a starting reader sees fewer beats between two old records than were
//! written, so a node that died long ago looks alive to it until `timeout_beats` new beats
//! arrive. The error is on the safe side: the starting node leaves that node's cameras alone
//! for those seconds; it never takes a camera another node still runs.

use crate::beat::{BeatV1, NodeRole};
use crate::rendezvous::Candidate;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Seen {
    beat: BeatV1,
    /// Every writer's beat count when this node's latest beat was read.
    counts_then: BTreeMap<String, u64>,
}

/// The live set, fed with the nodes topic's records in offset order.
#[derive(Debug, Clone)]
pub struct Membership {
    timeout_beats: u64,
    /// Beats read per key since this reader started.
    counts: BTreeMap<String, u64>,
    nodes: BTreeMap<String, Seen>,
}

/// One member as `cameras list` and the metrics show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberState {
    pub beat: BeatV1,
    /// Beats the busiest other writer wrote since this node's latest.
    pub staleness: u64,
    pub live: bool,
}

impl Membership {
    /// `timeout_beats`: see the module doc; at least 2.
    pub fn new(timeout_beats: u32) -> Membership {
        Membership {
            timeout_beats: u64::from(timeout_beats.max(2)),
            counts: BTreeMap::new(),
            nodes: BTreeMap::new(),
        }
    }

    /// A heartbeat, in log order.
    pub fn beat(&mut self, beat: BeatV1) {
        let key = beat.key();
        *self.counts.entry(key.clone()).or_default() += 1;
        let counts_then = self.counts.clone();
        self.nodes.insert(key, Seen { beat, counts_then });
    }

    /// A tombstone: the node left cleanly.
    pub fn left(&mut self, key: &str) {
        self.nodes.remove(key);
    }

    /// Beats the busiest other writer has written since `key`'s latest beat.
    pub fn staleness(&self, key: &str) -> Option<u64> {
        let seen = self.nodes.get(key)?;
        Some(
            self.counts
                .iter()
                .filter(|(k, _)| k.as_str() != key)
                .map(|(k, n)| n - seen.counts_then.get(k).copied().unwrap_or(0))
                .max()
                .unwrap_or(0),
        )
    }

    pub fn is_live(&self, key: &str) -> bool {
        self.staleness(key).is_some_and(|s| s < self.timeout_beats)
    }

    /// Whether the node `key` may run what it owns: it is live and not half-way to being
    /// judged gone (self-fencing; see the module doc).
    pub fn may_claim(&self, key: &str) -> bool {
        self.staleness(key)
            .is_some_and(|s| s < self.timeout_beats.div_ceil(2))
    }

    /// The live members of `role`, weighted by capacity, for [`crate::rendezvous::owner`].
    pub fn candidates(&self, role: NodeRole) -> Vec<Candidate<'_>> {
        self.nodes
            .iter()
            .filter(|(k, s)| s.beat.role == role && self.is_live(k))
            .map(|(_, s)| Candidate {
                name: s.beat.node.as_str(),
                weight: f64::from(s.beat.capacity.max(1)),
            })
            .collect()
    }

    /// Every node with a record, live or not, ordered by key.
    pub fn members(&self) -> Vec<MemberState> {
        self.nodes
            .iter()
            .map(|(k, s)| {
                let staleness = self.staleness(k).unwrap_or(0);
                MemberState {
                    beat: s.beat.clone(),
                    staleness,
                    live: staleness < self.timeout_beats,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beat::key;

    fn beat(node: &str) -> BeatV1 {
        BeatV1 {
            node: node.into(),
            role: NodeRole::Edge,
            capacity: 10,
            version: "test".into(),
            incarnation_ms: 0,
            seq: 0,
            http: None,
        }
    }

    fn round(m: &mut Membership, nodes: &[&str]) {
        for n in nodes {
            m.beat(beat(n));
        }
    }

    #[test]
    fn a_silent_node_is_gone_after_timeout_beats_of_another() {
        let mut m = Membership::new(5);
        round(&mut m, &["a", "b", "c"]);
        for i in 1..=5 {
            round(&mut m, &["a", "b"]);
            assert_eq!(m.staleness(&key(NodeRole::Edge, "c")), Some(i));
            assert_eq!(
                m.is_live(&key(NodeRole::Edge, "c")),
                i < 5,
                "after {i} rounds"
            );
            assert_eq!(
                m.may_claim(&key(NodeRole::Edge, "c")),
                i < 3,
                "after {i} rounds"
            );
        }
        let live: Vec<_> = m
            .candidates(NodeRole::Edge)
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(live, ["a", "b"]);
    }

    #[test]
    fn a_broker_outage_judges_nobody_gone() {
        let mut m = Membership::new(5);
        round(&mut m, &["a", "b", "c"]);
        // Nothing lands for a while; then everyone's beats come back, in any order.
        round(&mut m, &["b", "c", "a"]);
        round(&mut m, &["c", "a", "b"]);
        for n in ["a", "b", "c"] {
            assert!(m.may_claim(&key(NodeRole::Edge, n)), "{n} fenced");
        }
    }

    #[test]
    fn the_last_node_standing_stays_live_on_its_own_beats() {
        let mut m = Membership::new(3);
        round(&mut m, &["a", "b"]);
        for _ in 0..10 {
            round(&mut m, &["a"]);
        }
        assert!(m.may_claim(&key(NodeRole::Edge, "a")));
        assert!(!m.is_live(&key(NodeRole::Edge, "b")));
    }

    #[test]
    fn a_tombstone_removes_a_node_at_once_and_a_restart_revives_it() {
        let mut m = Membership::new(5);
        round(&mut m, &["a", "b"]);
        m.left(&key(NodeRole::Edge, "b"));
        assert_eq!(m.candidates(NodeRole::Edge).len(), 1);
        round(&mut m, &["b"]);
        assert_eq!(m.candidates(NodeRole::Edge).len(), 2);
    }

    #[test]
    fn roles_are_divided_separately_but_share_the_clock() {
        let mut m = Membership::new(3);
        let mut d = beat("d1");
        d.role = NodeRole::Dispatcher;
        m.beat(d.clone());
        round(&mut m, &["a"]);
        for _ in 0..3 {
            m.beat(d.clone());
        }
        // Only a dispatcher wrote since a's latest beat: a is gone all the same.
        assert!(m.candidates(NodeRole::Edge).is_empty());
        assert_eq!(m.candidates(NodeRole::Dispatcher).len(), 1);
    }
}
