-- One queue of exceptions: what needs a person, why, for which object, owned by whom.
CREATE TABLE exceptions (
    id          TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT 'operations',
    object_kind TEXT NOT NULL DEFAULT '',
    object_key  TEXT NOT NULL DEFAULT '',
    partner_id  TEXT NOT NULL DEFAULT '',
    message_id  TEXT NOT NULL DEFAULT '',
    dedupe_key  TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX exceptions_status ON exceptions(status, created_at);
CREATE INDEX exceptions_object ON exceptions(object_key);
CREATE INDEX exceptions_message ON exceptions(message_id);
-- At most one open exception per dedupe key: a repeated breach is an event, not a new row.
CREATE UNIQUE INDEX exceptions_open_dedupe ON exceptions(dedupe_key) WHERE status = 'open' AND dedupe_key <> '';

CREATE TABLE exception_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    exception_id TEXT NOT NULL REFERENCES exceptions(id),
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT NOT NULL DEFAULT '',
    comment      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX exception_events_exception ON exception_events(exception_id, id);
CREATE TRIGGER exception_events_no_update BEFORE UPDATE ON exception_events
BEGIN SELECT RAISE(ABORT, 'exception_events is append-only'); END;
CREATE TRIGGER exception_events_no_delete BEFORE DELETE ON exception_events
BEGIN SELECT RAISE(ABORT, 'exception_events is append-only'); END;

-- Business objects the sync follows (orders, shipments, invoices), their
-- append-only history, the references that correlate them and SLA timers.
CREATE TABLE sync_objects (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    state       TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX sync_objects_state ON sync_objects(kind, state, updated_at);

CREATE TABLE sync_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    event       TEXT NOT NULL,
    system      TEXT NOT NULL DEFAULT '',
    message_id  TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sync_events_object ON sync_events(kind, key, id);
CREATE INDEX sync_events_message ON sync_events(message_id);
CREATE TRIGGER sync_events_no_update BEFORE UPDATE ON sync_events
BEGIN SELECT RAISE(ABORT, 'sync_events is append-only'); END;
CREATE TRIGGER sync_events_no_delete BEFORE DELETE ON sync_events
BEGIN SELECT RAISE(ABORT, 'sync_events is append-only'); END;

CREATE TABLE sync_refs (
    value       TEXT NOT NULL,
    ref_type    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    PRIMARY KEY (value, ref_type, kind, key)
);
CREATE INDEX sync_refs_object ON sync_refs(kind, key);

CREATE TABLE sync_timers (
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    owner       TEXT NOT NULL DEFAULT 'operations',
    detail      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'met', 'breached', 'cancelled')),
    created_at  INTEGER NOT NULL,
    settled_at  INTEGER,
    PRIMARY KEY (name, kind, key)
);
CREATE INDEX sync_timers_due ON sync_timers(status, due_at);
