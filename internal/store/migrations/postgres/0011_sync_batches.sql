-- Documents a batch route collects for its next scheduled run (the legacy
-- ERP's nightly import file), and the outbound message that carried each.
CREATE TABLE sync_batch_items (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    route       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    event       TEXT NOT NULL,
    source_id   TEXT NOT NULL DEFAULT '',
    doc         TEXT NOT NULL,
    idem        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    batch       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sync_batch_items_route ON sync_batch_items(route, batch, id);
