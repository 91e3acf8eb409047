-- Small blobs kept in the index (issue 17): a folder archive stores the
-- bytes of a blob up to archive.inline_kb here, in the transaction that
-- records its message, instead of in a file of its own (a temporary file,
-- a link, an unlink and a flush of the file system per blob, before the
-- commit). Content-addressed like the folder (key sha256/ab/<sha256>):
-- messages with the same content share a row; a purge deletes it when no
-- live entry refers to it any more. A row is never changed.
CREATE TABLE archive_blobs (
    key   TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);
CREATE FUNCTION wharf_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER archive_blobs_immutable BEFORE UPDATE ON archive_blobs
    FOR EACH ROW EXECUTE FUNCTION wharf_immutable();
