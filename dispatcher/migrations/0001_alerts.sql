-- Alerts as received, one row per alert id (the idempotency key), and where each went.
CREATE TABLE alerts (
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
    json         TEXT NOT NULL   -- the AlertV1 as received
) WITHOUT ROWID;

CREATE INDEX alerts_camera_captured ON alerts (camera_id, captured_at);

CREATE TABLE alert_routes (
    alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
    desk_id  TEXT NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('primary', 'copy')),
    PRIMARY KEY (alert_id, desk_id)
) WITHOUT ROWID;

CREATE INDEX alert_routes_desk ON alert_routes (desk_id, alert_id);
