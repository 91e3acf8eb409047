-- The content-duplicate check of every archive Put asks for a partner's
-- earliest message with a given sha256. With the index on (partner_id,
-- sha256) alone, SQLite preferred messages_partner_received to avoid the
-- sort and walked all of the partner's messages on every Put (a full scan
-- per file for a partner with a million messages). This index answers the
-- query, order included, with one seek on both drivers.
DROP INDEX messages_partner_sha256;
CREATE INDEX messages_partner_sha256 ON messages(partner_id, sha256, received_at, id);
