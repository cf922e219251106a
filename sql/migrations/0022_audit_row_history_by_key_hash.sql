-- tradedb migration 0022: the audit trail's row-history index holds a 64-bit hash of the row's
-- table and key instead of the table's names and the key itself.
--
-- `tradedb audit show` is the only reader of the index: one row's history, by table and key.
-- The entries were about 75 bytes (two names and a jsonb key, compared as jsonb on every step
-- down the tree); a bigint entry is 16, so each audited change logs about 55 bytes less for it
-- and spends less time inserting it. The reader matches the hash and then the columns, so a hash
-- collision costs a few extra rows read, never a wrong row. The index name stays (04 checks it).
-- Rebuilding it locks audit_log against writes while it runs: on a large trail, run this in a
-- quiet moment.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

-- The hash a row's history is found by: its table and its key as jsonb's canonical text.
CREATE OR REPLACE FUNCTION shared.audit_row_ref(table_schema text, table_name text, row_key jsonb)
    RETURNS bigint
    LANGUAGE sql
    IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.hashtextextended(table_schema OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) table_name
                                       OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) row_key::text, 0)
$$;
COMMENT ON FUNCTION shared.audit_row_ref(text, text, jsonb) IS
    'The row-history index key of an audit row: a hash of its table and key (match the columns too).';
REVOKE ALL ON FUNCTION shared.audit_row_ref(text, text, jsonb)
    FROM PUBLIC, data_ingestion_user, strategy_engine_user, execution_user, risk_management_user,
         analytics_user, notification_user, logging_user;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_index
                    WHERE indexrelid = pg_catalog.to_regclass('shared.idx_audit_log_table_schema_table_name_row_key')
                      AND indexprs IS NOT NULL) THEN
        DROP INDEX IF EXISTS shared.idx_audit_log_table_schema_table_name_row_key;
        CREATE INDEX idx_audit_log_table_schema_table_name_row_key
            ON shared.audit_log (shared.audit_row_ref(table_schema, table_name, row_key));
    END IF;
END
$$;
