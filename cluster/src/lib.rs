//! The cluster: which edge runs which camera, decided with no consensus of our own.
//!
//! Every assignment is a deterministic function of two Kafka topics that every node reads
//! from the start with `assign()`:
//! - **the inventory** (`kafka.inventory_topic`, compacted, key = camera id, a tombstone on
//!   removal), written by `xueliang cameras apply`;
//! - **the nodes** (`kafka.nodes_topic`, compacted, one partition), where each node writes a
//!   heartbeat every `cluster.heartbeat_ms` and a tombstone when it leaves cleanly.
//!
//! Liveness is counted in heartbeats in the log's order ([`membership`]), and each camera goes
//! to the live edge with the highest weighted rendezvous score ([`rendezvous`]). So cameras
//! move only from a node that left or to one that joined, and a node that cannot write while
//! the others can stops its cameras at half the timeout, before anyone may take them.
//!
//! Why not Kafka's consumer groups: the group coordinator decides membership by the broker's
//! session timers, and on the test broker (tansu 0.6.0) eager assignors and static members
//! never hand a killed member's partitions over, cooperative-sticky takes 12–17 s and keeps
//! rebalancing for minutes after some restarts, silently. On Apache Kafka groups work, but
//! they move partitions, not cameras: one partition per camera does not scale to 20,000
//! cameras, and many cameras per partition turns every rebalance into a camera reshuffle.
//! Heartbeats on a topic behave the same on both brokers.

pub mod beat;
pub mod follow;
pub mod heartbeat;
pub mod inventory;
pub mod membership;
pub mod rendezvous;
pub mod topics;
pub mod view;
