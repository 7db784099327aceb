//! Metric names and descriptions shared by every stage, so dashboards see one vocabulary.
//!
//! Labels come from small fixed sets (camera id, stage, route, reason) — never alert or track
//! ids, which would explode the series count.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

pub const BUILD_INFO: &str = "xueliang_build_info";
pub const UP: &str = "xueliang_up";
pub const CONFIG_ERRORS: &str = "xueliang_config_errors_total";
pub const SHUTDOWN_DRAIN_SECONDS: &str = "xueliang_shutdown_drain_seconds";

/// Registers descriptions for the process-wide metrics. Stage crates describe their own.
pub fn describe_common() {
    describe_gauge!(BUILD_INFO, "Build information; value is always 1.");
    describe_gauge!(UP, "1 while the role (label `role`) is running.");
    describe_counter!(
        CONFIG_ERRORS,
        "Configuration errors found when loading (label `file`)."
    );
    describe_histogram!(
        SHUTDOWN_DRAIN_SECONDS,
        Unit::Seconds,
        "Time taken to drain on graceful shutdown."
    );
}
