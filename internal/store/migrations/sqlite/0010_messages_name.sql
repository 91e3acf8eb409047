-- The base name of a message's remote name (what follows its last '/'), the
-- name a partner sees in its SFTP outbound/ folder, indexed so that a
-- partner's Stat or download of one name does not list every waiting
-- document. substr(x, length(rtrim(x, <x without '/'>)) + 1): rtrim strips
-- every character but '/' from the right, leaving the folder part.
ALTER TABLE messages ADD COLUMN remote_base TEXT
    GENERATED ALWAYS AS (substr(remote_name, length(rtrim(remote_name, replace(remote_name, '/', ''))) + 1)) VIRTUAL;
CREATE INDEX messages_partner_remote_base ON messages(partner_id, remote_base, received_at DESC, id DESC);
