-- Wharf schema, version 2 (SQLite): the archive's hash chain, blob bookkeeping
-- and tombstones. Times are INTEGER unix microseconds, UTC.

-- One row per archived message: where its blob lives and how it was archived.
CREATE TABLE archive_entries (
    message_id    TEXT PRIMARY KEY REFERENCES messages(id),
    partner_id    TEXT NOT NULL,
    idem_key      TEXT NOT NULL DEFAULT '',  -- caller's idempotency key ('' = none)
    duplicate_of  TEXT NOT NULL DEFAULT '',  -- earlier message of the same partner with the same sha256
    purged_at     INTEGER                    -- NULL = blob kept; else when retention removed it
);
CREATE UNIQUE INDEX archive_entries_idem ON archive_entries(partner_id, idem_key) WHERE idem_key <> '';
CREATE INDEX messages_partner_sha256 ON messages(partner_id, sha256);
CREATE INDEX messages_blob_ref ON messages(blob_ref);

-- The hash chain: seq 1, 2, 3, ... with no gaps. Each record commits to the
-- previous record's hash and to the metadata of the message it names.
CREATE TABLE archive_chain (
    seq         INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('entry', 'tombstone')),
    message_id  TEXT NOT NULL REFERENCES messages(id),
    at          INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX archive_chain_message ON archive_chain(message_id);
CREATE TRIGGER archive_chain_no_update BEFORE UPDATE ON archive_chain
BEGIN SELECT RAISE(ABORT, 'archive_chain is append-only'); END;
CREATE TRIGGER archive_chain_no_delete BEFORE DELETE ON archive_chain
BEGIN SELECT RAISE(ABORT, 'archive_chain is append-only'); END;

-- The chain head: a single row, locked by every append so that appends are serial.
CREATE TABLE archive_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO archive_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
