-- The processing queue (issue 17): a row per message whose processing is
-- due, inserted in the transaction that archives the message; the instance
-- that claims it writes its own ID in owner, and the stage's last
-- transaction deletes the row. A small table of its own in place of a job
-- row per file (its insert, fetch and two completions on the one SQLite
-- writer); not a column of messages, whose every index a changing column
-- would touch on each claim (on PostgreSQL an update of an indexed column
-- writes a new entry into every index of the table). Retries stay River
-- jobs.
CREATE TABLE processing_queue (
    message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    owner      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX processing_queue_owner ON processing_queue(owner, message_id);
