-- The transactional outbox (package events publishes it): every event is
-- written in the transaction of the change that caused it. seq is the order
-- of writing; pos, given by AssignOutbox to committed events one batch at a
-- time, is the order of commit, which each sink's cursor follows (a seq
-- cursor could pass over an event whose transaction commits late).
CREATE TABLE outbox_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    pos            INTEGER,
    at             INTEGER NOT NULL,
    type           TEXT NOT NULL,
    object_kind    TEXT NOT NULL DEFAULT '',
    object_key     TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    partner_id     TEXT NOT NULL DEFAULT '',
    message_id     TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT '',
    data           TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX outbox_events_pos ON outbox_events(pos) WHERE pos IS NOT NULL;
CREATE INDEX outbox_events_unassigned ON outbox_events(seq) WHERE pos IS NULL;
CREATE INDEX outbox_events_at ON outbox_events(at);

-- The last position assigned; its row is the lock assigners take turns on.
CREATE TABLE outbox_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    pos INTEGER NOT NULL
);
INSERT INTO outbox_head (id, pos) VALUES (1, 0);

-- Each sink's cursor (everything up to pos acknowledged by its broker),
-- the lease of the instance that publishes it, and its counters.
CREATE TABLE outbox_sinks (
    name          TEXT PRIMARY KEY,
    pos           INTEGER NOT NULL,
    owner         TEXT NOT NULL DEFAULT '',
    lease_until   INTEGER,
    published     INTEGER NOT NULL DEFAULT 0,
    failures      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    last_error_at INTEGER,
    updated_at    INTEGER NOT NULL
);
