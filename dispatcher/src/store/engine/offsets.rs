//! The consumer's position on the alerts topic, kept beside the alerts it covers: a batch and
//! the offsets after it commit in one transaction, so whichever dispatcher reads a partition
//! next resumes exactly after the last batch that was stored — none lost, none stored twice.

use super::super::StoreError;
use super::super::sql::{Tx, V, int};
use super::us;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The next offset to read of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub next: i64,
}

/// Moves each partition's position forward to `next` (never back: a dispatcher that has just
/// lost a partition may still finish a batch of it).
pub fn advance(
    t: &mut dyn Tx,
    offsets: &[PartitionOffset],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for o in offsets {
        let args = [
            V::from(o.topic.as_str()),
            V::I(i64::from(o.partition)),
            V::I(o.next),
            V::I(us(now)),
        ];
        let n = t.exec(
            "UPDATE consumer_offsets SET next_offset = $3, updated_at = $4 \
             WHERE topic = $1 AND partition = $2 AND next_offset < $3",
            &args,
        )?;
        if n == 0 {
            t.exec(
                "INSERT INTO consumer_offsets (topic, partition, next_offset, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (topic, partition) DO NOTHING",
                &args,
            )?;
        }
    }
    Ok(())
}

/// Every stored position of `topic`, by partition.
pub fn load(t: &mut dyn Tx, topic: &str) -> Result<HashMap<i32, i64>, StoreError> {
    let rows = t.query(
        "SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1",
        &[V::from(topic)],
    )?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(
            int(&r, 0, "offset partition")? as i32,
            int(&r, 1, "next offset")?,
        );
    }
    Ok(out)
}
