-- Whether a message's processing claim was ever returned to the queue
-- (issue 17). A claim is returned when its instance stops, crashes or is
-- failed over, so a claim of a row never returned is the message's first
-- processing: nothing of it can have been recorded before, and the stage
-- skips its idempotency lookups (the acknowledgment archived already, the
-- documents applied already). Existing rows count as returned.
ALTER TABLE processing_queue ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
UPDATE processing_queue SET released = 1;
