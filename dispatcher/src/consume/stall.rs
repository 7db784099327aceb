//! The stall watch: a partition whose stored position does not move while the broker holds
//! records past it has stopped reaching the desks — whatever the cause. On the test broker a
//! record of about 5 MiB is accepted and then never served, so the consumer waits at its
//! offset forever and nothing else says so (deploy/KAFKA.md); a poisoned fetch or a stuck
//! store look the same from here.
//!
//! Every few seconds it compares, for each partition this dispatcher holds, the offset stored
//! with the alerts (the consumer's real progress) with the partition's end. Behind and not
//! moving for `dispatcher.stall_alert_s` raises the operator alert: an ERROR naming topic,
//! partition and offset, `xueliang_dispatcher_partition_stalled{partition}` = 1, and a count.
//! It clears when the position moves again.

use crate::store::Store;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;
use xueliang_core::shutdown::Shutdown;

pub const PARTITION_LAG: &str = "xueliang_dispatcher_partition_lag";
pub const PARTITION_STALLED: &str = "xueliang_dispatcher_partition_stalled";
pub const STALLS_TOTAL: &str = "xueliang_dispatcher_partition_stalls_total";

/// One partition's progress as last seen.
#[derive(Debug, Clone, Copy)]
struct Seen {
    position: i64,
    since: Instant,
    alerted: bool,
}

/// What a check found for one partition (pure, for the decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fine,
    /// Newly stalled: position, records behind, for how long.
    Stalled {
        position: i64,
        lag: i64,
        for_s: u64,
    },
    /// Moving again after a stall.
    Recovered {
        position: i64,
    },
}

/// The decisions, apart from Kafka and the store.
#[derive(Default)]
pub struct Tracker {
    seen: BTreeMap<i32, Seen>,
}

impl Tracker {
    /// `position`: the stored next offset (or the partition's start); `end`: its high watermark.
    pub fn check(
        &mut self,
        partition: i32,
        position: i64,
        end: i64,
        after: Duration,
        now: Instant,
    ) -> Verdict {
        let lag = (end - position).max(0);
        let s = self.seen.entry(partition).or_insert(Seen {
            position,
            since: now,
            alerted: false,
        });
        if s.position != position || lag == 0 {
            let was = s.alerted;
            *s = Seen {
                position,
                since: now,
                alerted: false,
            };
            return if was {
                Verdict::Recovered { position }
            } else {
                Verdict::Fine
            };
        }
        let stuck = now.saturating_duration_since(s.since);
        if !s.alerted && stuck >= after {
            s.alerted = true;
            return Verdict::Stalled {
                position,
                lag,
                for_s: stuck.as_secs(),
            };
        }
        Verdict::Fine
    }

    /// Forgets partitions no longer held; the stalled ones among them (now someone else's).
    pub fn keep(&mut self, held: &BTreeSet<i32>) -> Vec<i32> {
        let gone: Vec<i32> = self
            .seen
            .keys()
            .filter(|p| !held.contains(p))
            .copied()
            .collect();
        gone.into_iter()
            .filter(|p| self.seen.remove(p).is_some_and(|s| s.alerted))
            .collect()
    }

    pub fn stalled(&self) -> Vec<(i32, i64)> {
        self.seen
            .iter()
            .filter(|(_, s)| s.alerted)
            .map(|(p, s)| (*p, s.position))
            .collect()
    }
}

pub struct StallWatch {
    pub consumer: Arc<StreamConsumer>,
    pub topic: String,
    pub store: Arc<dyn Store>,
    pub held: Arc<Mutex<BTreeSet<i32>>>,
    pub after: Duration,
    /// The partitions stalled now, with their positions (for the handle and tests).
    pub stalled: Arc<Mutex<Vec<(i32, i64)>>>,
    pub shutdown: Shutdown,
}

impl StallWatch {
    pub async fn run(self) {
        let every = (self.after / 4).clamp(Duration::from_millis(500), Duration::from_secs(5));
        let mut tracker = Tracker::default();
        loop {
            tokio::select! {
                _ = self.shutdown.wait() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for p in tracker.keep(&held) {
                metrics::gauge!(PARTITION_STALLED, "partition" => p.to_string()).set(0.0);
            }
            if held.is_empty() {
                continue;
            }
            let Ok(stored) = self.store.consumer_offsets(&self.topic).await else {
                continue; // the store's own errors are reported where it is written
            };
            let consumer = self.consumer.clone();
            let topic = self.topic.clone();
            let parts: Vec<i32> = held.iter().copied().collect();
            let marks = tokio::task::spawn_blocking(move || {
                parts
                    .into_iter()
                    .filter_map(|p| {
                        consumer
                            .fetch_watermarks(&topic, p, Duration::from_secs(2))
                            .ok()
                            .map(|w| (p, w))
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            // No answer from the broker: nothing to compare (the no-partitions and consumer
            // errors say so); judging would call every partition stalled.
            let now = Instant::now();
            for (p, (low, high)) in marks {
                let position = stored.get(&p).copied().unwrap_or(low);
                metrics::gauge!(PARTITION_LAG, "partition" => p.to_string())
                    .set((high - position).max(0) as f64);
                match tracker.check(p, position, high, self.after, now) {
                    Verdict::Fine => {}
                    Verdict::Stalled {
                        position,
                        lag,
                        for_s,
                    } => {
                        metrics::gauge!(PARTITION_STALLED, "partition" => p.to_string()).set(1.0);
                        metrics::counter!(STALLS_TOTAL).increment(1);
                        tracing::error!(
                            topic = %self.topic,
                            partition = p,
                            offset = position,
                            behind = lag,
                            for_s,
                            "alerts partition makes no progress: the record at this offset is not \
                             being served or stored, and the alerts of its cameras behind it are \
                             not reaching any desk (on tansu a record of about 5 MiB or more is \
                             accepted and never served; check the broker, or move the position \
                             past it with care)"
                        );
                    }
                    Verdict::Recovered { position } => {
                        metrics::gauge!(PARTITION_STALLED, "partition" => p.to_string()).set(0.0);
                        tracing::info!(topic = %self.topic, partition = p, offset = position, "alerts partition moving again");
                    }
                }
            }
            *self.stalled.lock().unwrap_or_else(|p| p.into_inner()) = tracker.stalled();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_secs(60);

    #[test]
    fn behind_and_not_moving_for_the_limit_is_a_stall_once() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        assert_eq!(t.check(0, 10, 15, AFTER, t0), Verdict::Fine);
        assert_eq!(
            t.check(0, 10, 15, AFTER, t0 + Duration::from_secs(59)),
            Verdict::Fine
        );
        assert_eq!(
            t.check(0, 10, 15, AFTER, t0 + AFTER),
            Verdict::Stalled {
                position: 10,
                lag: 5,
                for_s: 60
            }
        );
        assert_eq!(
            t.check(0, 10, 16, AFTER, t0 + AFTER * 2),
            Verdict::Fine,
            "raised once"
        );
        assert_eq!(t.stalled(), [(0, 10)]);
        assert_eq!(
            t.check(0, 11, 16, AFTER, t0 + AFTER * 3),
            Verdict::Recovered { position: 11 }
        );
        assert!(t.stalled().is_empty());
    }

    #[test]
    fn an_idle_or_busy_partition_is_no_stall() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        // Idle: nothing behind, however long.
        for s in 0..10 {
            assert_eq!(t.check(1, 40, 40, AFTER, t0 + AFTER * s), Verdict::Fine);
        }
        // Busy: behind but moving.
        for s in 0..10 {
            let pos = 100 + s as i64;
            assert_eq!(
                t.check(2, pos, pos + 50, AFTER, t0 + AFTER * s),
                Verdict::Fine
            );
        }
    }

    #[test]
    fn a_partition_handed_over_is_forgotten() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        t.check(3, 5, 9, AFTER, t0);
        t.check(3, 5, 9, AFTER, t0 + AFTER);
        assert_eq!(t.keep(&BTreeSet::from([4])), [3]);
        assert!(t.stalled().is_empty());
    }
}
