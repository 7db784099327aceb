-- Where each dispatcher resumes reading the alerts topic: the next offset of every partition,
-- written in the same transaction as the batch of alerts it follows. A dispatcher that takes a
-- partition over (another one died or left) starts exactly where the last batch committed.
-- Offsets only move forward (the update is conditional), so a late batch of a dispatcher that
-- has just lost the partition cannot move it back.
CREATE TABLE consumer_offsets (
    topic       TEXT NOT NULL,
    partition   BIGINT NOT NULL,
    next_offset BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,  -- µs since the epoch
    PRIMARY KEY (topic, partition)
);
