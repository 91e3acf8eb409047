-- Interchanges received, for duplicate ISA13 detection per sender.
CREATE TABLE x12_interchanges (
    sender_qual  TEXT NOT NULL,
    sender_id    TEXT NOT NULL,
    control      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sender_qual, sender_id, control, message_id)
);
CREATE INDEX x12_interchanges_seen ON x12_interchanges(sender_qual, sender_id, control, seen_at);
