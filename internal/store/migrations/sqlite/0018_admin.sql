-- A partner an operator disabled (console or API): no SFTP login, no
-- inbound HTTP or AS2 until enabled again. NULL: enabled. Kept when the
-- configuration's partners are applied at start (they never set it).
ALTER TABLE partners ADD COLUMN disabled_at INTEGER;

-- Schedules an operator paused (console or API): every instance's job
-- runtime skips their slots until they are resumed.
CREATE TABLE schedule_pauses (
    name      TEXT PRIMARY KEY,
    paused_at INTEGER NOT NULL,
    paused_by TEXT NOT NULL DEFAULT ''
);
