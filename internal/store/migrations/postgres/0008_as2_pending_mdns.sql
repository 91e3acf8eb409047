-- AS2 sending (issue 7): the asynchronous MDNs Wharf waits for. A row exists
-- from just before the message is posted until its MDN settles it or the
-- overdue check turns it into an exception; taking the row (DELETE ...
-- RETURNING) is what settles it, so a late MDN and the timeout cannot both win.
-- (0007 is reserved by another branch.)
CREATE TABLE as2_pending_mdns (
    partner_id      TEXT NOT NULL,
    as2_message_id  TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    mic             TEXT NOT NULL DEFAULT '',
    signed_mdn      INTEGER NOT NULL DEFAULT 0,
    deadline        TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, as2_message_id)
);
CREATE INDEX as2_pending_mdns_deadline ON as2_pending_mdns(deadline);
