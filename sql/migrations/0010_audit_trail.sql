-- tradedb migration 0010: the audit trail.
--
-- Every row users or services change in the audited tables leaves a row in shared.audit_log,
-- written by a row trigger in the same transaction: table, primary key, operation, old and new
-- values (on UPDATE only the columns that changed; secret columns as "[redacted]"), the login
-- role, the application actor (set_config('tradedb.actor', ..., true), else the connection's
-- application_name), the transaction id and the time.
--
-- Tamper evidence: each row gets a SHA-256 hash chained to the previous row of its table. The
-- chain is not extended inside the writing transaction (that would make every writer of a table
-- wait for the one before it to commit); shared.seal_audit_log, run every second by `npm start`
-- and by `tradedb audit seal|verify`, seals rows in order once every transaction older than them
-- has ended, so the chain order is final when it is written. shared.verify_audit_chain recomputes
-- every hash, finds gaps, and compares each chain's end with shared.audit_chain_heads.
--
-- Append-only: no role but the owner may UPDATE or DELETE audit_log, and a trigger refuses even
-- the owner (and superusers) anything but sealing an unsealed row with its content unchanged;
-- TRUNCATE is refused too. Only the owner reads it: old and new values are account data that
-- row-level security keeps from other accounts, so the service roles lose their SELECT on it.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

ALTER TABLE shared.audit_log
    ADD COLUMN IF NOT EXISTS chain_seq bigint,
    ADD COLUMN IF NOT EXISTS prev_hash bytea,
    ADD COLUMN IF NOT EXISTS row_hash  bytea;
COMMENT ON COLUMN shared.audit_log.chain_seq IS 'Position in its table''s hash chain (1, 2, ...), set when sealed.';
COMMENT ON COLUMN shared.audit_log.row_hash IS 'sha256(prev_hash || shared.audit_content(row)), set when sealed.';

-- What the sealer looks for; small, as rows are sealed within seconds.
CREATE INDEX IF NOT EXISTS idx_audit_log_unsealed ON shared.audit_log (id) WHERE row_hash IS NULL;

-- The end of each table's chain: rows removed from the end of a chain would otherwise leave a
-- shorter chain that still verifies.
CREATE TABLE IF NOT EXISTS shared.audit_chain_heads (
    table_schema text        NOT NULL,
    table_name   text        NOT NULL,
    last_seq     bigint      NOT NULL CHECK (last_seq > 0),
    last_hash    bytea       NOT NULL,
    sealed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_schema, table_name)
);

-- ---------------------------------------------------------------------------------------------
-- Capture
-- ---------------------------------------------------------------------------------------------

-- AFTER INSERT OR UPDATE OR DELETE row trigger. TG_ARGV[0]: the primary key columns;
-- TG_ARGV[1]: columns whose values never enter the log. Definer rights: the service roles may
-- not write audit_log themselves, so they cannot forge rows either.
CREATE OR REPLACE FUNCTION shared.audit_row_change()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key_columns text[] := TG_ARGV[0]::text[];
    redacted    text[] := TG_ARGV[1]::text[];
    old_row     jsonb;
    new_row     jsonb;
    old_values  jsonb;
    new_values  jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Only what changed; a change of updated_at alone (a no-op upsert) is no change.
        SELECT jsonb_object_agg(n.key, old_row -> n.key), jsonb_object_agg(n.key, n.value)
          INTO old_values, new_values
          FROM jsonb_each(new_row) AS n
         WHERE n.value IS DISTINCT FROM old_row -> n.key AND n.key <> 'updated_at';
        IF new_values IS NULL THEN
            RETURN NULL;
        END IF;
    ELSE
        old_values := old_row;
        new_values := new_row;
    END IF;
    -- Secrets are named, not shown: "[redacted]" says the column was set or changed.
    SELECT jsonb_object_agg(v.key, CASE WHEN v.key = ANY (redacted) AND v.value <> 'null' THEN '"[redacted]"'::jsonb ELSE v.value END)
      INTO old_values FROM jsonb_each(old_values) AS v;
    SELECT jsonb_object_agg(v.key, CASE WHEN v.key = ANY (redacted) AND v.value <> 'null' THEN '"[redacted]"'::jsonb ELSE v.value END)
      INTO new_values FROM jsonb_each(new_values) AS v;

    INSERT INTO shared.audit_log (table_schema, table_name, row_key, operation, old_values, new_values, db_role, actor)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME,
           -- Key values as text: `tradedb audit show --key` matches them whatever the column type.
           (SELECT jsonb_object_agg(k, coalesce(new_row, old_row) ->> k) FROM unnest(key_columns) AS k),
           TG_OP, old_values, new_values, session_user,
           coalesce(nullif(current_setting('tradedb.actor', true), ''), nullif(current_setting('application_name'), ''));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION shared.audit_row_change() IS
    'Audit row trigger: appends the change to shared.audit_log (arguments: key columns, redacted columns).';

-- Puts a table under audit (idempotent): `SELECT shared.audit_table('shared.api_tokens', '{token_hash}')`.
CREATE OR REPLACE FUNCTION shared.audit_table(target regclass, redacted text[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key_columns text[];
BEGIN
    SELECT array_agg(a.attname::text ORDER BY k.ordinality)
      INTO key_columns
      FROM pg_index i
     CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k (attnum, ordinality)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = target AND i.indisprimary;
    IF key_columns IS NULL THEN
        RAISE EXCEPTION 'cannot audit %: it has no primary key', target USING ERRCODE = 'invalid_table_definition';
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER audit_changes AFTER INSERT OR UPDATE OR DELETE ON %s
                        FOR EACH ROW EXECUTE FUNCTION shared.audit_row_change(%L, %L)',
                   target, key_columns, coalesce(redacted, '{}'));
END
$$;

SELECT shared.audit_table(audited.tbl::regclass, audited.redacted)
  FROM (VALUES ('shared.accounts', '{}'::text[]),
               ('shared.system_config', '{}'),
               ('data_ingestion.symbols', '{}'),
               ('strategy_engine.strategies', '{}'),
               ('execution.orders', '{}'),
               ('execution.positions', '{}'),
               ('risk_management.risk_limits', '{}'),
               ('risk_management.position_limits', '{}'),
               ('notification.notification_configs', '{target_encrypted}')) AS audited (tbl, redacted);

-- ---------------------------------------------------------------------------------------------
-- The hash chain
-- ---------------------------------------------------------------------------------------------

-- The bytes a row's hash covers: every column but the chain's own, in a form that does not
-- depend on the session (time as microseconds since the epoch, jsonb's canonical text).
CREATE OR REPLACE FUNCTION shared.audit_content(entry shared.audit_log)
    RETURNS bytea
    LANGUAGE sql
    IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT convert_to(jsonb_build_array(
               entry.id, (extract(epoch FROM entry.occurred_at) * 1000000)::bigint, entry.table_schema,
               entry.table_name, entry.row_key, entry.operation, entry.old_values, entry.new_values,
               entry.db_role, entry.actor, entry.txid)::text, 'UTF8')
$$;

-- Seals up to max_rows rows, oldest first, and returns how many. Only rows of transactions
-- older than every running one: a transaction still writing may yet add rows with lower ids.
CREATE OR REPLACE FUNCTION shared.seal_audit_log(max_rows integer DEFAULT 10000)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon bigint := txid_snapshot_xmin(txid_current_snapshot());
    entry   shared.audit_log;
    head    record;
    digest  bytea;
    sealed  integer := 0;
BEGIN
    -- One sealer at a time, so each chain grows by one writer.
    PERFORM pg_advisory_xact_lock(hashtext('shared.seal_audit_log'));
    FOR entry IN
        SELECT * FROM shared.audit_log
         WHERE row_hash IS NULL AND txid < horizon
         ORDER BY id
         LIMIT max_rows
    LOOP
        SELECT last_seq, last_hash INTO head
          FROM shared.audit_chain_heads
         WHERE table_schema = entry.table_schema AND table_name = entry.table_name;
        digest := shared.digest(coalesce(head.last_hash, ''::bytea) || shared.audit_content(entry), 'sha256');
        UPDATE shared.audit_log
           SET chain_seq = coalesce(head.last_seq, 0) + 1, prev_hash = head.last_hash, row_hash = digest
         WHERE id = entry.id AND occurred_at = entry.occurred_at;
        INSERT INTO shared.audit_chain_heads AS h (table_schema, table_name, last_seq, last_hash)
        VALUES (entry.table_schema, entry.table_name, coalesce(head.last_seq, 0) + 1, digest)
        ON CONFLICT (table_schema, table_name)
        DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash, sealed_at = now();
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END
$$;

-- Every break in the chains: a row whose content no longer matches its hash, a row that does
-- not follow the one before it, rows missing inside or at the end of a chain.
CREATE OR REPLACE FUNCTION shared.verify_audit_chain()
    RETURNS TABLE (table_schema text, table_name text, chain_seq bigint, audit_id bigint, problem text)
    LANGUAGE sql
    STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH chain AS (
        SELECT a.*, shared.digest(coalesce(a.prev_hash, ''::bytea) || shared.audit_content(a), 'sha256') AS recomputed,
               lag(a.row_hash) OVER w AS previous_hash, lag(a.chain_seq) OVER w AS previous_seq
          FROM shared.audit_log a
         WHERE a.row_hash IS NOT NULL
        WINDOW w AS (PARTITION BY a.table_schema, a.table_name ORDER BY a.chain_seq)
    ), ends AS (
        SELECT c.table_schema, c.table_name, max(c.chain_seq) AS last_seq
          FROM chain c GROUP BY 1, 2
    )
    SELECT c.table_schema, c.table_name, c.chain_seq, c.id,
           CASE WHEN c.row_hash <> c.recomputed THEN 'content changed: the row no longer matches its hash'
                WHEN c.chain_seq <> coalesce(c.previous_seq, 0) + 1
                     THEN format('%s row(s) missing before this one', c.chain_seq - coalesce(c.previous_seq, 0) - 1)
                ELSE 'chain broken: the row does not follow the one before it' END
      FROM chain c
     WHERE c.row_hash <> c.recomputed
        OR c.chain_seq <> coalesce(c.previous_seq, 0) + 1
        OR c.prev_hash IS DISTINCT FROM c.previous_hash
    UNION ALL
    SELECT h.table_schema, h.table_name, h.last_seq, NULL,
           format('%s row(s) missing at the end of the chain (it ends at %s, sealed up to %s)',
                  h.last_seq - coalesce(e.last_seq, 0), coalesce(e.last_seq, 0), h.last_seq)
      FROM shared.audit_chain_heads h
      LEFT JOIN ends e USING (table_schema, table_name)
     WHERE coalesce(e.last_seq, 0) < h.last_seq
    ORDER BY 1, 2, 3
$$;

-- ---------------------------------------------------------------------------------------------
-- Append-only, for everyone
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION shared.audit_log_append_only()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Sealing is the one change allowed: an unsealed row gets its place in the chain, nothing else.
    IF TG_OP = 'UPDATE' THEN
        IF OLD.row_hash IS NULL AND NEW.row_hash IS NOT NULL
           AND to_jsonb(NEW) - '{chain_seq,prev_hash,row_hash}'::text[] = to_jsonb(OLD) - '{chain_seq,prev_hash,row_hash}'::text[] THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'shared.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'The audit trail is evidence: nothing in it is ever changed or removed.';
END
$$;

CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON shared.audit_log
    FOR EACH ROW EXECUTE FUNCTION shared.audit_log_append_only();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON shared.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION shared.audit_log_append_only();

-- ---------------------------------------------------------------------------------------------
-- Privileges: the owner alone reads the trail and runs its functions
-- ---------------------------------------------------------------------------------------------

DO $$
DECLARE
    reader     name;
    audit_part regclass;
BEGIN
    FOREACH reader IN ARRAY ARRAY['data_ingestion_user', 'strategy_engine_user', 'execution_user',
                                  'risk_management_user', 'analytics_user', 'notification_user',
                                  'logging_user', 'trading_readonly']::name[]
    LOOP
        CONTINUE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = reader);
        EXECUTE format('REVOKE ALL ON TABLE shared.audit_log, shared.audit_chain_heads FROM %I', reader);
        FOR audit_part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'shared.audit_log'::regclass LOOP
            EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', audit_part, reader);
        END LOOP;
        -- New tables in shared are no longer readable by default (a new month of audit_log
        -- would otherwise be): a later migration grants what it means to share.
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA shared REVOKE SELECT ON TABLES FROM %I', reader);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION shared.audit_row_change(), shared.audit_table(regclass, text[]),
    shared.audit_content(shared.audit_log), shared.seal_audit_log(integer), shared.verify_audit_chain(),
    shared.audit_log_append_only()
    FROM PUBLIC, data_ingestion_user, strategy_engine_user, execution_user, risk_management_user,
         analytics_user, notification_user, logging_user;
