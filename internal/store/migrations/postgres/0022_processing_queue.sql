-- The processing queue (issue 17): a message whose processing is due
-- carries processing = '' from the transaction that archives it; the
-- instance that claims it writes its own ID there, and the stage's last
-- transaction clears it (NULL). One column on the row the archive inserts
-- anyway, in place of a job row per file (its insert, fetch and two
-- completions on the one SQLite writer). Retries stay River jobs.
ALTER TABLE messages ADD COLUMN processing TEXT;
CREATE INDEX messages_processing ON messages(processing, received_at, id) WHERE processing IS NOT NULL;
