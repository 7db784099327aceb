//! Metric names of the alert publisher. Labels come from fixed sets (`reason`); never alert
//! ids.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Alerts the broker acknowledged (acks=all).
pub const PUBLISHED: &str = "xueliang_alerts_published_total";
/// Alerts written to the spool.
pub const SPOOLED: &str = "xueliang_alerts_spooled_total";
/// Publishing problems (label `reason`: `delivery`, `rejected`, `too_large`, `spool_io`,
/// `producer`). None of them loses an alert by itself; see [`LOST`].
pub const PUBLISH_ERRORS: &str = "xueliang_alerts_publish_errors_total";
/// Alerts that will never reach Kafka (label `reason`: `spool_damaged`, `rejected`,
/// `shutdown_spool_io`). Each is also an ERROR log line.
pub const LOST: &str = "xueliang_alerts_lost_total";
/// Alerts sent again after the producer was recreated (the consumer drops them by alert id).
pub const RESENT: &str = "xueliang_alerts_resent_total";
/// Alerts waiting in the spool for the broker's acknowledgement.
pub const SPOOL_RECORDS: &str = "xueliang_spool_records";
/// Bytes of those alerts.
pub const SPOOL_BYTES: &str = "xueliang_spool_bytes";
/// 1 from the moment the spool is full (alert producers block) until it drained to half: an
/// operator alert.
pub const SPOOL_FULL: &str = "xueliang_spool_full";
/// From handing the alert to the publisher to the broker's acknowledgement.
pub const DELIVERY_SECONDS: &str = "xueliang_alert_delivery_seconds";

pub fn describe() {
    describe_counter!(PUBLISHED, "Alerts acknowledged by Kafka (acks=all).");
    describe_counter!(SPOOLED, "Alerts written to the on-disk spool.");
    describe_counter!(
        PUBLISH_ERRORS,
        "Alert publishing problems (label `reason`: delivery, rejected, too_large, spool_io, producer)."
    );
    describe_counter!(
        LOST,
        "Alerts that will never reach Kafka (label `reason`); each one is also logged at ERROR."
    );
    describe_counter!(
        RESENT,
        "Alerts sent again after the producer was recreated (deduplicated downstream by alert id)."
    );
    describe_gauge!(SPOOL_RECORDS, "Alerts waiting in the spool for Kafka.");
    describe_gauge!(
        SPOOL_BYTES,
        Unit::Bytes,
        "Bytes of alerts waiting in the spool."
    );
    describe_gauge!(
        SPOOL_FULL,
        "1 from the alert spool filling up (the analyzer blocks) until it drained to half; operator action needed."
    );
    describe_histogram!(
        DELIVERY_SECONDS,
        Unit::Seconds,
        "Time from handing an alert to the publisher to Kafka's acknowledgement."
    );
}
