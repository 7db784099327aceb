//! Weighted rendezvous (highest-random-weight) hashing: every node scores every key, the
//! highest score owns it.
//!
//! Why this and not a ring or a table: the owner is a pure function of the key and the set
//! of live nodes, so every node computes the same map with no coordination; when a node
//! leaves only its keys move (each to the node that scored second), and when one joins it
//! takes only the keys it now scores highest on — 1/N of them for equal weights. The
//! weighting (`score = -w / ln(u)`, Schindelhauer & Schomaker 2005) gives each node a share
//! proportional to its capacity.
//!
//! **The hash must never change**: a different hash moves almost every camera at the next
//! upgrade. It is FNV-1a 64 finished with SplitMix64, written out here so no dependency
//! update can change it.

/// A node that can own keys, with its weight (its capacity in cameras).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub weight: f64,
}

/// The stable 64-bit hash of `key` scored for `node`.
pub fn hash(key: &str, node: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain([0xff]).chain(node.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // SplitMix64's finaliser: FNV alone spreads short, similar keys poorly.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The score of `node` for `key`; the highest wins.
pub fn score(key: &str, node: &str, weight: f64) -> f64 {
    // 53 bits mapped into (0, 1), never 0 or 1, so ln() is finite and negative.
    let u = ((hash(key, node) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    -weight.max(f64::MIN_POSITIVE) / u.ln()
}

/// The owner of `key` among `nodes`, or `None` when there is none. Ties (equal scores) go to
/// the smaller name, so the answer never depends on the order of `nodes`.
pub fn owner<'a>(key: &str, nodes: &[Candidate<'a>]) -> Option<&'a str> {
    nodes
        .iter()
        .map(|n| (score(key, n.name, n.weight), n.name))
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn nodes<'a>(names: &[&'a str]) -> Vec<Candidate<'a>> {
        names
            .iter()
            .map(|n| Candidate {
                name: n,
                weight: 1.0,
            })
            .collect()
    }

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("4403040000132{i:07}")).collect()
    }

    fn map<'a>(keys: &[String], nodes: &[Candidate<'a>]) -> BTreeMap<String, &'a str> {
        keys.iter()
            .map(|k| (k.clone(), owner(k, nodes).unwrap()))
            .collect()
    }

    #[test]
    fn the_hash_is_frozen() {
        // Changing these values moves every camera of every cluster at the next upgrade.
        // (Checked against an independent Python implementation of the same definition.)
        assert_eq!(
            hash("44030400001320000001", "edge-1"),
            0x26a0_29dc_0537_4b2e
        );
        assert_eq!(hash("", ""), 0x4f2d_b50f_1240_40cd);
    }

    #[test]
    fn the_owner_does_not_depend_on_the_order_of_nodes() {
        let a = nodes(&["edge-1", "edge-2", "edge-3"]);
        let b = nodes(&["edge-3", "edge-1", "edge-2"]);
        for k in keys(500) {
            assert_eq!(owner(&k, &a), owner(&k, &b));
        }
        assert_eq!(owner("x", &[]), None);
    }

    #[test]
    fn a_node_leaving_moves_only_its_own_keys() {
        let ks = keys(3000);
        let before = map(&ks, &nodes(&["edge-1", "edge-2", "edge-3"]));
        let after = map(&ks, &nodes(&["edge-1", "edge-3"]));
        for k in &ks {
            if before[k] != "edge-2" {
                assert_eq!(before[k], after[k], "{k} moved though its node stayed");
            }
        }
    }

    #[test]
    fn a_node_joining_takes_about_one_nth_and_nothing_moves_between_old_nodes() {
        let ks = keys(6000);
        let before = map(&ks, &nodes(&["edge-1", "edge-2", "edge-3"]));
        let after = map(&ks, &nodes(&["edge-1", "edge-2", "edge-3", "edge-4"]));
        let moved = ks.iter().filter(|k| before[*k] != after[*k]).count();
        for k in &ks {
            if before[k] != after[k] {
                assert_eq!(after[k], "edge-4", "{k} moved between two old nodes");
            }
        }
        let share = moved as f64 / ks.len() as f64;
        assert!(
            (0.22..0.28).contains(&share),
            "moved {share:.3}, expected ~1/4"
        );
    }

    #[test]
    fn shares_follow_the_weights() {
        let ks = keys(9000);
        let ns = vec![
            Candidate {
                name: "small",
                weight: 10.0,
            },
            Candidate {
                name: "big",
                weight: 20.0,
            },
        ];
        let big = ks.iter().filter(|k| owner(k, &ns) == Some("big")).count();
        let share = big as f64 / ks.len() as f64;
        assert!(
            (0.63..0.70).contains(&share),
            "big got {share:.3}, expected ~2/3"
        );
    }
}
