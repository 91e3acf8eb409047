-- Which documents of a message the sync applied (or refused), with the
-- events each emitted: a retried processing job applies nothing twice and
-- resends along the same events; a second document about the same object in
-- the same file is a document of its own.
CREATE TABLE sync_applied (
    message_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    events      TEXT NOT NULL DEFAULT '',
    refused     BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (message_id, seq)
);
