-- PostgreSQL keeps room in the pages of messages for its rows' next
-- versions (0026 there); SQLite updates a row in place and has no such
-- setting. The version is kept in step on both.
SELECT 1;
