-- tradedb migration 0012: the HTTP API runs without the owner role.
--
-- The API faces the network, so it holds only service roles' connections. Two things needed the
-- owner until now: checking a bearer token (shared.api_tokens is the owner's alone) and reading
-- other roles' statement statistics for the database health page. The first becomes a
-- SECURITY DEFINER function that returns the live token matching a hash (and notes its use, at
-- most once a minute), executable by logging_user only, the role the API reads monitoring data
-- with; the second is pg_read_all_stats for logging_user (the monitoring service's role).
\ir ../include/defaults.sql
SET client_min_messages = warning;
-- As the superuser who runs setup (an earlier migration in this session may have SET ROLE).
RESET ROLE;

GRANT pg_read_all_stats TO logging_user;

SET ROLE :"trading_db_user";

CREATE OR REPLACE FUNCTION shared.authenticate_api_token(presented_hash bytea)
    RETURNS TABLE (id integer, name text, scope text, created_at timestamptz, expires_at timestamptz,
                   revoked_at timestamptz, last_used_at timestamptz)
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH live AS (
        SELECT * FROM shared.api_tokens t
         WHERE t.token_hash = presented_hash AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
    ), touched AS (
        UPDATE shared.api_tokens t SET last_used_at = now() FROM live
         WHERE t.id = live.id AND (live.last_used_at IS NULL OR live.last_used_at < now() - interval '1 minute')
    )
    SELECT live.id::integer, live.name, live.scope, live.created_at, live.expires_at, live.revoked_at, live.last_used_at FROM live
$$;
COMMENT ON FUNCTION shared.authenticate_api_token(bytea) IS 'The live API token with this SHA-256, for the API (logging_user), which cannot read shared.api_tokens.';

REVOKE ALL ON FUNCTION shared.authenticate_api_token(bytea)
    FROM PUBLIC, data_ingestion_user, strategy_engine_user, execution_user, risk_management_user,
         analytics_user, notification_user, trading_readonly;
GRANT EXECUTE ON FUNCTION shared.authenticate_api_token(bytea) TO logging_user;
