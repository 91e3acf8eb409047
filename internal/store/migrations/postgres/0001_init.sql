-- Wharf schema, version 1 (PostgreSQL).
CREATE TABLE partners (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT 'cli',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE partner_x12_ids (
    partner_id  TEXT NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    qualifier   TEXT NOT NULL,
    ident       TEXT NOT NULL,
    PRIMARY KEY (qualifier, ident)
);
CREATE INDEX partner_x12_ids_partner ON partner_x12_ids(partner_id);

CREATE TABLE partner_ssh_keys (
    fingerprint    TEXT PRIMARY KEY,
    partner_id     TEXT NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    authorized_key TEXT NOT NULL,
    position       INTEGER NOT NULL
);
CREATE INDEX partner_ssh_keys_partner ON partner_ssh_keys(partner_id);

CREATE TABLE counters (
    partner_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (partner_id, name)
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    transport       TEXT NOT NULL DEFAULT '',
    remote_name     TEXT NOT NULL DEFAULT '',
    size            BIGINT NOT NULL DEFAULT 0,
    sha256          TEXT NOT NULL DEFAULT '',
    blob_ref        TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT '',
    correlation_id  TEXT NOT NULL DEFAULT '',
    format          TEXT NOT NULL DEFAULT '',
    doc_types       TEXT NOT NULL DEFAULT '',
    parent_id       TEXT NOT NULL DEFAULT '',
    received_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX messages_received ON messages(received_at DESC, id DESC);
CREATE INDEX messages_partner_received ON messages(partner_id, received_at DESC, id DESC);
CREATE INDEX messages_sha256 ON messages(sha256);
CREATE INDEX messages_correlation ON messages(correlation_id);

CREATE TABLE message_keys (
    message_id  TEXT NOT NULL REFERENCES messages(id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (message_id, kind, value)
);
CREATE INDEX message_keys_value ON message_keys(value);

CREATE TABLE message_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages(id),
    at          TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX message_events_message ON message_events(message_id, id);

-- The history is append-only: refuse updates and deletes at the database.
CREATE FUNCTION wharf_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER message_events_append_only BEFORE UPDATE OR DELETE ON message_events
    FOR EACH ROW EXECUTE FUNCTION wharf_append_only();

CREATE TABLE schedule_runs (
    name        TEXT PRIMARY KEY,
    last_slot   TIMESTAMPTZ NOT NULL
);
