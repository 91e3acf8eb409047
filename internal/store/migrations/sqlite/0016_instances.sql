-- The running wharf serve processes on this database, each announcing
-- itself with a heartbeat: an instance whose heartbeat stops is gone, and
-- a survivor returns the jobs it was running to the queue (jobs package).
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,   -- also River's client ID: the jobs it runs name it
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
