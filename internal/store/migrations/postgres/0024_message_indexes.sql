-- Fewer indexes on messages (issue 17): each one a message's insert
-- touches is a page of the one SQLite writer's WAL per message, twice
-- per processed file (the file and its 997), at a random place for these.
--   - messages_correlation: no query looks messages up by correlation ID
--     alone (the console and the API find them by key).
--   - messages_blob_ref: purges count a blob's live entries by the blob's
--     content hash and ref (messages_sha256, content-addressed refs end
--     with the hash); spool uploads list the spooled messages, which the
--     partial index below holds, and nothing else.
DROP INDEX messages_correlation;
DROP INDEX messages_blob_ref;
CREATE INDEX messages_spooled ON messages(received_at, id) WHERE blob_ref LIKE 'spool:%';
