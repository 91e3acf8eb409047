-- Blobs a purge could not delete because the blob store holds them under
-- Object Lock retention until a date: the retention job deletes them once
-- the date has passed (and records a blob_deleted event on the entry).
CREATE TABLE archive_kept_blobs (
    blob_ref    TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL,  -- the purged entry the blob belonged to
    until_at    INTEGER NOT NULL -- the retention date the blob store gave
);
CREATE INDEX archive_kept_blobs_until ON archive_kept_blobs(until_at);
