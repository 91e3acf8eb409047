-- Room in each page of messages for its rows' next versions (issue 17).
-- A message's status changes a few times soon after its insert (received,
-- processed, a 997's waiting and delivered), and its status, format and
-- types are in no index: PostgreSQL can then write the new version in the
-- same page without touching the indexes (a HOT update), but only when the
-- page has room, and a page filled by inserts in arrival order has none.
-- Pages written from now on keep a fifth free.
ALTER TABLE messages SET (fillfactor = 80);
