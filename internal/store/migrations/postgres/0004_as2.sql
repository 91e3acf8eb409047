-- AS2 (issue 7): partners' AS2 names and certificates, and the bookkeeping
-- of every AS2 message in either direction (which archived messages hold
-- its raw bytes, payload and MDN; its MIC, disposition and MDN delivery).
CREATE TABLE partner_as2 (
    partner_id  TEXT PRIMARY KEY REFERENCES partners(id) ON DELETE CASCADE,
    as2_id      TEXT NOT NULL UNIQUE,
    certs       TEXT NOT NULL DEFAULT '',
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE as2_messages (
    partner_id      TEXT NOT NULL,
    as2_message_id  TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    message_id      TEXT NOT NULL DEFAULT '',
    raw_id          TEXT NOT NULL DEFAULT '',
    mdn_id          TEXT NOT NULL DEFAULT '',
    mic             TEXT NOT NULL DEFAULT '',
    disposition     TEXT NOT NULL DEFAULT '',
    mdn_mode        TEXT NOT NULL DEFAULT '',
    mdn_url         TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT '',
    deadline        TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, as2_message_id, direction)
);
CREATE INDEX as2_messages_message ON as2_messages(message_id);
CREATE INDEX as2_messages_mdn ON as2_messages(mdn_id);
CREATE INDEX as2_messages_pending ON as2_messages(status, deadline);
