-- Partner tokens: a bearer token bound to one partner (role 'partner'),
-- which reaches only the routes its scopes name and only that partner's
-- objects and messages. SQLite cannot change a CHECK constraint in place,
-- so the table is rebuilt with the same rows (nothing references it).
CREATE TABLE api_tokens_new (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor', 'partner')),
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    partner      TEXT NOT NULL DEFAULT '',
    scopes       TEXT NOT NULL DEFAULT '',
    CHECK ((role = 'partner') = (partner <> ''))
);
INSERT INTO api_tokens_new (id, name, role, hash, created_at, last_used_at, revoked_at)
    SELECT id, name, role, hash, created_at, last_used_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
