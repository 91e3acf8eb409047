-- Rate limits shared by every instance on this database: one row per
-- limited key (a token, a partner's door) holding its GCRA theoretical
-- arrival time in unix nanoseconds of the callers' clock, and whether the
-- last decision let the request through. One UPDATE decides (ratelimit).
CREATE TABLE rate_limits (
    limit_key TEXT PRIMARY KEY,
    tat       BIGINT NOT NULL,
    allowed   BOOLEAN NOT NULL
);
