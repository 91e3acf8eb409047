-- A partner an operator disabled (console or API): no SFTP login, no
-- inbound HTTP or AS2 until enabled again. NULL: enabled. Kept when the
-- configuration's partners are applied at start (they never set it).
ALTER TABLE partners ADD COLUMN disabled_at TIMESTAMPTZ;
