-- Incidents (alerts grouped per camera and event type), who sees them, their audit trail,
-- silences, settings (the duty level), desk users and sessions.
-- Timestamps are BIGINT microseconds since the epoch (UTC); booleans are 0/1.
ALTER TABLE alerts ADD COLUMN incident_id TEXT;
CREATE INDEX alerts_incident ON alerts (incident_id, captured_at);

CREATE TABLE incidents (
    incident_id   TEXT PRIMARY KEY NOT NULL,
    desk_id       TEXT NOT NULL,   -- primary desk
    camera_id     TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    severity      TEXT NOT NULL,   -- the most severe alert's
    priority      TEXT NOT NULL,   -- P1..P4
    state         TEXT NOT NULL CHECK (state IN ('new', 'acknowledged', 'dispatched', 'closed')),
    alert_count   BIGINT NOT NULL,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL, -- dispatcher clock: the SLA starts here
    updated_at    BIGINT NOT NULL,
    silenced      BIGINT NOT NULL DEFAULT 0,
    jurisdiction  TEXT,
    escalated_at  BIGINT,
    escalated_to  TEXT,
    waited_s      BIGINT,
    acked_at      BIGINT,
    acked_by      TEXT,
    dispatch_unit TEXT,
    dispatch_note TEXT,
    dispatched_at BIGINT,
    disposition   TEXT,
    closed_at     BIGINT
) WITHOUT ROWID;
CREATE INDEX incidents_grouping ON incidents (camera_id, event_type, state, last_seen);
CREATE INDEX incidents_queue ON incidents (state, priority, created_at);

CREATE TABLE incident_desks (
    incident_id TEXT NOT NULL REFERENCES incidents (incident_id),
    desk_id     TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('primary', 'copy', 'escalation')),
    PRIMARY KEY (incident_id, desk_id)
) WITHOUT ROWID;
CREATE INDEX incident_desks_desk ON incident_desks (desk_id, incident_id);

CREATE TABLE audit (
    incident_id TEXT NOT NULL REFERENCES incidents (incident_id),
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    from_addr   TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    note        TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
) WITHOUT ROWID;

CREATE TABLE silences (
    silence_id TEXT PRIMARY KEY NOT NULL,
    scope      TEXT NOT NULL CHECK (scope IN ('camera', 'desk', 'jurisdiction')),
    value      TEXT NOT NULL,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX silences_match ON silences (scope, value, ends_at);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE users (
    username      TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    desk_id       TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (username);
