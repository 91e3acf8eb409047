-- Partner tokens: a bearer token bound to one partner (role 'partner'),
-- which reaches only the routes its scopes name (comma-separated) and only
-- that partner's objects and messages.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD COLUMN partner TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'operator', 'auditor', 'partner') AND (role = 'partner') = (partner <> ''));
