-- tradedb migration 0008: what live analytics needs to see.
--
-- New bars reprice every account's holdings, so the live analytics consumer (analytics_user)
-- recomputes each active account's day when an ingestion run finishes. shared.accounts is
-- account-isolated (row-level security), so analytics_user cannot list the accounts; this
-- function hands it their ids, and nothing else, as the owner.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

CREATE OR REPLACE FUNCTION shared.active_account_ids()
    RETURNS SETOF text
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT account_id FROM shared.accounts WHERE status OPERATOR(pg_catalog.=) 'active' ORDER BY account_id
$$;

COMMENT ON FUNCTION shared.active_account_ids() IS
    'The ids of the active accounts (for live analytics, which row-level security keeps from listing shared.accounts).';

REVOKE EXECUTE ON FUNCTION shared.active_account_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION shared.active_account_ids() TO analytics_user;
