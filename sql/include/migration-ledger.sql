-- The ledger of applied scripts. `tradedb setup` creates it before anything else (it must
-- record 01, which runs before the trading database has tables) and 02 includes it, so the
-- psql route and `tradedb setup` end with the same schema. Run as a superuser in the
-- trading database; leaves the session's role as it found it.
\ir defaults.sql
CREATE SCHEMA IF NOT EXISTS shared AUTHORIZATION :"trading_db_user";
SET ROLE :"trading_db_user";
CREATE TABLE IF NOT EXISTS shared.schema_migrations (
    script      text        PRIMARY KEY,
    checksum    text        NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    applied_at  timestamptz NOT NULL DEFAULT now(),
    applied_by  text        NOT NULL DEFAULT current_user,
    duration_ms integer     NOT NULL CHECK (duration_ms >= 0)
);
COMMENT ON TABLE shared.schema_migrations IS
    'One row per sql/ script applied by tradedb setup, with the sha256 of its text.';
RESET ROLE;
