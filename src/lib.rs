//! What the `xueliang` binary and the benchmark harness share: reading the configuration
//! files from disk, and the process's logs and metrics set-up.

pub mod config_load;
pub mod telemetry;
