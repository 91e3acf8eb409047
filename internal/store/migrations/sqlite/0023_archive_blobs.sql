-- Small blobs kept in the index (issue 17): a folder archive stores the
-- bytes of a blob up to archive.inline_kb here, in the transaction that
-- records its message, instead of in a file of its own (a temporary file,
-- a link, an unlink and a flush of the file system per blob, before the
-- commit). Content-addressed like the folder (key sha256/ab/<sha256>):
-- messages with the same content share a row; a purge deletes it when no
-- live entry refers to it any more. A row is never changed. The rowid
-- keeps inserts at the end of the table; the key's index is small.
CREATE TABLE archive_blobs (
    key   TEXT NOT NULL UNIQUE,
    bytes BLOB NOT NULL
);
CREATE TRIGGER archive_blobs_no_update BEFORE UPDATE ON archive_blobs
BEGIN SELECT RAISE(ABORT, 'archive_blobs are immutable'); END;
