-- tradedb migration 0011: bearer tokens for the HTTP API.
--
-- `tradedb tokens create --scope read|trade|admin` makes a token and prints it once; only its
-- SHA-256 is stored (a token is 32 random bytes, so a fast hash is enough: nothing to guess).
-- Tokens are the owner's, like accounts, and under audit (the hash recorded as "[redacted]").
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

CREATE TABLE IF NOT EXISTS shared.api_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    scope        text        NOT NULL CHECK (scope IN ('read', 'trade', 'admin')),
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz CHECK (expires_at > created_at),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
COMMENT ON TABLE shared.api_tokens IS 'API bearer tokens: only the SHA-256 of each is kept (tradedb tokens).';

SELECT shared.audit_table('shared.api_tokens', '{token_hash}');

-- The owner's alone, also after a psql re-run of 02 (whose grant matrix covers all of shared).
SELECT shared.restrict_to_owner('shared.api_tokens');
