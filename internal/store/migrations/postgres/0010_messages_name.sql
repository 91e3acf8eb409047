-- The base name of a message's remote name (what follows its last '/'), the
-- name a partner sees in its SFTP outbound/ folder, indexed so that a
-- partner's Stat or download of one name does not list every waiting
-- document.
ALTER TABLE messages ADD COLUMN remote_base TEXT
    GENERATED ALWAYS AS (regexp_replace(remote_name, '^.*/', '')) STORED;
CREATE INDEX messages_partner_remote_base ON messages(partner_id, remote_base, received_at DESC, id DESC);
