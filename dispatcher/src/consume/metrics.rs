//! Metric names of the Kafka consumer.

use metrics::{describe_counter, describe_gauge};

pub const CONSUMED_TOTAL: &str = "xueliang_dispatcher_consumed_total";
pub const PERSISTED_TOTAL: &str = "xueliang_dispatcher_persisted_total";
pub const DUPLICATES_TOTAL: &str = "xueliang_dispatcher_duplicates_total";
pub const DEAD_LETTERED_TOTAL: &str = "xueliang_dispatcher_dead_lettered_total";
pub const STORE_ERRORS_TOTAL: &str = "xueliang_dispatcher_store_errors_total";
pub const ASSIGNED_PARTITIONS: &str = "xueliang_dispatcher_assigned_partitions";
pub const NO_PARTITIONS: &str = "xueliang_dispatcher_no_partitions";

pub fn describe_metrics() {
    describe_counter!(
        CONSUMED_TOTAL,
        "Kafka messages received from the alerts topic."
    );
    describe_counter!(
        PERSISTED_TOTAL,
        "Alerts newly written to the store (redeliveries not included)."
    );
    describe_counter!(
        DUPLICATES_TOTAL,
        "Alerts received again whose id was already stored (harmless redelivery)."
    );
    describe_counter!(
        DEAD_LETTERED_TOTAL,
        "Malformed messages sent to the dead-letter topic (label `reason`)."
    );
    describe_counter!(
        STORE_ERRORS_TOTAL,
        "Failed store transactions (the batch is retried; offsets wait)."
    );
    describe_gauge!(
        ASSIGNED_PARTITIONS,
        "Partitions of the alerts topic this consumer holds."
    );
    describe_gauge!(
        NO_PARTITIONS,
        "1 while this consumer has held no partition for longer than \
         `dispatcher.no_partitions_alert` (operator alert: alerts may not be flowing)."
    );
}
