-- tradedb migration 0016: the audit trail's txid index as BRIN.
--
-- The sealer reads only the rows of transactions at or above its horizon
-- (shared.seal_audit_log: txid >= sealed_below_txid AND txid < the oldest running one). Rows
-- arrive in roughly txid order, so a block range summary finds them as well as a btree does, and
-- costs every audited change almost nothing where the btree entry cost about a third of the
-- trigger's insert (backend CPU per audited update, measured against the same update with the
-- trigger off: about 130 µs with the btree, 90 µs with BRIN). BRIN is lossy, and the executor
-- rechecks the condition on each row, so the sealer reads the same rows as before. Block ranges
-- are summarized as they fill (autosummarize): an unsummarized range is read whole by every
-- sealer run, so without it the sealer would read every row written since the last VACUUM.
-- The index name stays (04_verify_setup checks it). Rebuilding it locks audit_log against writes
-- while it runs: on a large trail, run this in a quiet moment.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

DO $$
BEGIN
    IF (SELECT a.amname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_am a ON a.oid = c.relam
         WHERE c.oid = pg_catalog.to_regclass('shared.idx_audit_log_txid')) IS DISTINCT FROM 'brin' THEN
        DROP INDEX IF EXISTS shared.idx_audit_log_txid;
        CREATE INDEX idx_audit_log_txid ON shared.audit_log USING brin (txid) WITH (autosummarize = on);
    END IF;
END
$$;
