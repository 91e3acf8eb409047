-- Functional groups Wharf sent, awaiting the partner's 997/999 (and TA1).
CREATE TABLE x12_sent_groups (
    message_id      TEXT NOT NULL,
    partner_id      TEXT NOT NULL,
    isa13           TEXT NOT NULL,
    gs06            TEXT NOT NULL,
    functional_id   TEXT NOT NULL,
    sets            INTEGER NOT NULL,
    sent_at         INTEGER NOT NULL,
    due_at          INTEGER,
    ack_status      TEXT NOT NULL DEFAULT '',
    ack_message_id  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, gs06, message_id)
);
CREATE INDEX x12_sent_groups_isa ON x12_sent_groups(partner_id, isa13);
CREATE INDEX x12_sent_groups_due ON x12_sent_groups(ack_status, due_at);
