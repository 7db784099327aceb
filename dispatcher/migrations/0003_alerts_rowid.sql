-- Alerts as a rowid table (SQLite only; PostgreSQL runs 0003_alerts_rowid.postgres.sql).
-- WITHOUT ROWID keeps whole rows inside the primary-key B-tree, which suits small rows; an
-- alert row carries the alert's JSON (about 2 KB, 50 KB with a snapshot), so every insert
-- split leaf pages and the store thread spent its time rebalancing them. As a rowid table the
-- rows append and the primary key is a small separate index (benches/RESULTS.md, bench
-- dispatch: 0.6x → 0.8–0.97x of the broker's raw consume rate for 2 KB alerts).
-- Runs with foreign keys off (alert_routes references alerts); the runner checks them after.
CREATE TABLE alerts_rowid (
    alert_id     TEXT PRIMARY KEY NOT NULL,
    camera_id    TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    severity     TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    captured_at  TEXT NOT NULL,  -- RFC 3339, UTC
    received_at  TEXT NOT NULL,  -- RFC 3339, UTC: when this dispatcher persisted it
    desk_id      TEXT NOT NULL,  -- primary desk
    route_reason TEXT NOT NULL,
    jurisdiction TEXT,
    grid         TEXT,
    json         TEXT NOT NULL,  -- the AlertV1 as received
    incident_id  TEXT
);
INSERT INTO alerts_rowid (alert_id, camera_id, event_type, severity, rule_id, captured_at,
    received_at, desk_id, route_reason, jurisdiction, grid, json, incident_id)
SELECT alert_id, camera_id, event_type, severity, rule_id, captured_at, received_at, desk_id,
    route_reason, jurisdiction, grid, json, incident_id
FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_rowid RENAME TO alerts;
CREATE INDEX alerts_camera_captured ON alerts (camera_id, captured_at);
CREATE INDEX alerts_incident ON alerts (incident_id, captured_at);
