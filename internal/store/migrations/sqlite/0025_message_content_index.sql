-- One index of messages by content instead of two (issue 17). Both keys
-- begin with a hash, so each was a page at a random place of the one
-- SQLite writer's WAL for every message inserted, twice per processed file
-- (the file and its 997). messages_content serves both of their queries:
--   - a partner's first message with some content (the archive's duplicate
--     lookup): sha256 and partner_id, then in received order;
--   - a blob's live entries (a purge's count): sha256 alone.
CREATE INDEX messages_content ON messages(sha256, partner_id, received_at, id);
DROP INDEX messages_partner_sha256;
DROP INDEX messages_sha256;
