-- The ERP's master data (customers, items, locations), kept as reference
-- data that documents are checked against: one row per record, its
-- canonical JSON (canonical.MasterRecord) and the message it came from.
CREATE TABLE master_records (
    object      TEXT NOT NULL,
    id          TEXT NOT NULL,
    data        TEXT NOT NULL,
    message_id  TEXT NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (object, id)
);
