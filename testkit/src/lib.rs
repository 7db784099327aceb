//! Test tooling shared by every crate's integration tests and by the benchmarks (a
//! dev-dependency of the product's crates, a dependency of the tooling crates
//! `xueliang-bench` and `xueliang-microbench`; nothing in the product links it):
//!
//! - [`broker`]: the one launcher of the real Kafka-protocol test broker (tansu: start, stop,
//!   kill, restart), failing with the fix when it is not installed;
//! - [`process`]: child processes that are always stopped ([`Killed`]);
//! - [`http`]: a loopback GET and a Prometheus-text reader, for `/healthz` and `/metrics`;
//! - [`cluster`]: the cluster as processes (edges and dispatchers run by a `xueliang` binary
//!   the caller names, their metrics, kill -9 and clean stops, who streams which camera,
//!   `cameras apply`, a desk's login and event stream, bursts of test alerts), shared by
//!   `tests/cluster.rs` and `xueliang-bench cluster`;
//! - [`postgres`]: throwaway PostgreSQL databases on `$XUELIANG_TEST_PG`'s server, dropped on
//!   drop ([`TempDatabase`]), failing with the fix (or, for the suites that test PostgreSQL
//!   beside SQLite, skipping outside CI) when no server is configured;
//! - [`deploy`]: the shipped single-node deployment (`deploy/single-node`), parsed;
//! - [`compose`]: the deployments for more than one machine (`deploy/compose`,
//!   `deploy/kubernetes`) as data: their YAML documents, the compose services and the cluster
//!   topology compose runs ([`compose::topology`]: the edges' and dispatchers' node names, the
//!   cameras), for the tests that run or check that cluster;
//! - [`city`]: a synthetic city for routing tests and benchmarks (a lattice of station
//!   polygons, optionally with holes, enclaves, MultiPolygons and exclave islands; grids; a
//!   route tree; cameras with one alert each);
//! - [`proc`]: what tests and benchmarks read from `/proc` (CPU per thread, per thread name,
//!   per process and for the machine; this process's memory);
//! - [`Rng`]: the deterministic generator the fixtures use.
//!
//! Design decision: a blocking API with no async runtime of its own to enter, so a test of any
//! crate — sync or `#[tokio::test]` — can use it (the synchronous `postgres` client's runtime
//! runs on a thread of its own). Its dependencies are the workspace's own (`xueliang-core` for
//! the configuration types and the alert contract, `postgres`, `rdkafka` for the test alerts,
//! `serde_json`, `chrono`, `tempfile`); it does not depend on the stage crates, so every
//! stage's tests can use it.

pub mod broker;
pub mod city;
pub mod cluster;
pub mod compose;
pub mod deploy;
pub mod http;
pub mod postgres;
pub mod proc;
pub mod process;
pub mod rng;

pub use self::postgres::TempDatabase;
pub use broker::{Broker, free_port, tansu_binary};
pub use process::Killed;
pub use rng::Rng;
