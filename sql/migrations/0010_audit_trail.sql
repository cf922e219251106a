-- tradedb migration 0010: the audit trail.
--
-- Every row users or services change in the audited tables leaves a row in shared.audit_log,
-- written by a row trigger in the same transaction: table, primary key, operation, old and new
-- values (on UPDATE only the columns that changed; secret columns as "[redacted]"), the login
-- role, the application actor (set_config('tradedb.actor', ..., true), else the connection's
-- application_name), the transaction id and the time.
--
-- Tamper evidence: each row is sealed into a hash chain per table: its seal in
-- shared.audit_seals holds sha256(previous seal's hash || the row's content) and its place in the
-- chain. The chain is not extended inside the writing transaction (that would make every writer
-- of a table wait for the one before it to commit): shared.seal_audit_log (run by `npm start`
-- every second, `tradedb audit seal|sealer|verify`) seals rows once every transaction older
-- than them has ended, so the chain order is final when it is written. Seals are separate rows,
-- so audit_log rows are never updated, not even to seal them. shared.verify_audit_chain
-- recomputes every hash and finds changed rows, deleted rows and gaps in a chain.
--
-- Append-only: no role but the owner may touch audit_log or its seals, and triggers refuse even
-- the owner (and superusers) UPDATE, DELETE and TRUNCATE. Only the owner reads them: old and new
-- values are account data that row-level security keeps from other accounts, so the service
-- roles lose their SELECT on the trail.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

-- The sealer finds unsealed rows by transaction id (from where it last sealed everything).
CREATE INDEX IF NOT EXISTS idx_audit_log_txid ON shared.audit_log (txid);

-- One seal per audit row: its place in its table's chain and the hashes.
CREATE TABLE IF NOT EXISTS shared.audit_seals (
    table_schema text        NOT NULL,
    table_name   text        NOT NULL,
    chain_seq    bigint      NOT NULL CHECK (chain_seq > 0),
    audit_id     bigint      NOT NULL,
    -- With audit_id, the audit row's primary key (and partition).
    occurred_at  timestamptz NOT NULL,
    prev_hash    bytea,
    row_hash     bytea       NOT NULL CHECK (octet_length(row_hash) = 32),
    sealed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_schema, table_name, chain_seq),
    CONSTRAINT audit_seals_audit_id_key UNIQUE (audit_id)
);

-- Every audit row of a transaction below this id is sealed (the sealer's progress).
CREATE TABLE IF NOT EXISTS shared.audit_seal_state (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sealed_below_txid bigint  NOT NULL DEFAULT 0
);
INSERT INTO shared.audit_seal_state DEFAULT VALUES ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Capture
-- ---------------------------------------------------------------------------------------------

-- AFTER INSERT OR UPDATE OR DELETE row trigger. TG_ARGV[0]: columns whose values never enter
-- the log ('{}' for none); TG_ARGV[1..]: the primary key columns. Definer rights: the service
-- roles may not write audit_log themselves, so they cannot forge rows either. It runs in every
-- audited write (the order flow included): names are schema-qualified instead of a SET
-- search_path clause, and the work is plain expressions but for the one query per update that
-- picks the changed columns and the insert.
CREATE OR REPLACE FUNCTION shared.audit_row_change()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
DECLARE
    old_row    jsonb;
    new_row    jsonb;
    old_values jsonb;
    new_values jsonb;
    row_key    jsonb := '{}';
    secret     text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_row := pg_catalog.to_jsonb(OLD);
        new_row := pg_catalog.to_jsonb(NEW);
        -- Only what changed; bookkeeping times alone (updated_at of a no-op upsert, a token's
        -- last_used_at) are no change.
        SELECT pg_catalog.jsonb_object_agg(n.key, old_row OPERATOR(pg_catalog.->) n.key), pg_catalog.jsonb_object_agg(n.key, n.value)
          INTO old_values, new_values
          FROM pg_catalog.jsonb_each(new_row) AS n
         WHERE n.value IS DISTINCT FROM old_row OPERATOR(pg_catalog.->) n.key AND n.key OPERATOR(pg_catalog.<>) ALL ('{updated_at,last_used_at}'::text[]);
        IF new_values IS NULL THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        new_row := pg_catalog.to_jsonb(NEW);
        new_values := new_row;
    ELSE
        old_row := pg_catalog.to_jsonb(OLD);
        old_values := old_row;
    END IF;
    -- Key values as text: `tradedb audit show --key` matches them whatever the column type.
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        row_key := row_key OPERATOR(pg_catalog.||)
                   pg_catalog.jsonb_build_object(TG_ARGV[i], coalesce(new_row, old_row) OPERATOR(pg_catalog.->>) TG_ARGV[i]);
    END LOOP;
    -- Secrets are named, not shown: "[redacted]" says the column was set or changed.
    IF TG_ARGV[0] OPERATOR(pg_catalog.<>) '{}' THEN
        FOREACH secret IN ARRAY TG_ARGV[0]::text[] LOOP
            IF old_values OPERATOR(pg_catalog.->) secret OPERATOR(pg_catalog.<>) 'null'::jsonb THEN
                old_values := old_values OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(secret, '[redacted]');
            END IF;
            IF new_values OPERATOR(pg_catalog.->) secret OPERATOR(pg_catalog.<>) 'null'::jsonb THEN
                new_values := new_values OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(secret, '[redacted]');
            END IF;
        END LOOP;
    END IF;
    INSERT INTO shared.audit_log (table_schema, table_name, row_key, operation, old_values, new_values, db_role, actor)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, row_key, TG_OP, old_values, new_values, session_user,
            coalesce(nullif(pg_catalog.current_setting('tradedb.actor', true), ''), pg_catalog.current_setting('application_name')));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION shared.audit_row_change() IS
    'Audit row trigger: appends the change to shared.audit_log (arguments: redacted columns, then the key columns).';

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
                        FOR EACH ROW EXECUTE FUNCTION shared.audit_row_change(%s)',
                   target, (SELECT string_agg(quote_literal(arg), ', ')
                              FROM unnest(ARRAY[coalesce(redacted, '{}')::text] || key_columns) AS arg));
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

-- The bytes a row's seal covers: every column, in a form that does not depend on the session (time as microseconds since the epoch, jsonb's canonical text).
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

-- Seals up to max_rows rows and returns how many: per table in id order, continuing its chain.
-- Only rows of transactions older than every running one (the snapshot's xmin): a transaction
-- still running may yet add rows with lower ids, which must come first. Progress is kept in
-- audit_seal_state, so each call looks only at rows added since everything was sealed.
CREATE OR REPLACE FUNCTION shared.seal_audit_log(max_rows integer DEFAULT 5000)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon     bigint := txid_snapshot_xmin(txid_current_snapshot());
    entry       record;
    chain_table text;
    last_seq    bigint;
    last_hash   bytea;
    schemas     text[] := '{}';
    names       text[] := '{}';
    seqs        bigint[] := '{}';
    ids         bigint[] := '{}';
    times       timestamptz[] := '{}';
    prevs       bytea[] := '{}';
    hashes      bytea[] := '{}';
BEGIN
    -- One sealer at a time: each chain grows by one writer.
    PERFORM pg_advisory_xact_lock(hashtext('shared.audit_seals'));
    FOR entry IN
        SELECT a.id, a.occurred_at, a.table_schema, a.table_name, shared.audit_content(a) AS content
          FROM shared.audit_log a
         WHERE a.txid >= (SELECT sealed_below_txid FROM shared.audit_seal_state) AND a.txid < horizon
           AND NOT EXISTS (SELECT FROM shared.audit_seals s WHERE s.audit_id = a.id)
         ORDER BY a.table_schema, a.table_name, a.id
         LIMIT max_rows
    LOOP
        IF chain_table IS DISTINCT FROM entry.table_schema || '.' || entry.table_name THEN
            chain_table := entry.table_schema || '.' || entry.table_name;
            SELECT s.chain_seq, s.row_hash INTO last_seq, last_hash
              FROM shared.audit_seals s
             WHERE s.table_schema = entry.table_schema AND s.table_name = entry.table_name
             ORDER BY s.chain_seq DESC LIMIT 1;
            last_seq := coalesce(last_seq, 0);
        END IF;
        schemas := schemas || entry.table_schema;
        names := names || entry.table_name;
        ids := ids || entry.id;
        times := times || entry.occurred_at;
        prevs := prevs || last_hash;
        last_seq := last_seq + 1;
        last_hash := shared.digest(coalesce(last_hash, ''::bytea) || entry.content, 'sha256');
        seqs := seqs || last_seq;
        hashes := hashes || last_hash;
    END LOOP;
    INSERT INTO shared.audit_seals (table_schema, table_name, chain_seq, audit_id, occurred_at, prev_hash, row_hash)
    SELECT * FROM unnest(schemas, names, seqs, ids, times, prevs, hashes);
    -- Everything below the horizon is sealed unless the batch was full: start there next time.
    IF cardinality(ids) < max_rows THEN
        UPDATE shared.audit_seal_state SET sealed_below_txid = horizon;
    END IF;
    RETURN cardinality(ids);
END
$$;

-- Every break in the chains: a row whose content no longer matches its seal, a seal whose row
-- is gone, a seal that does not follow the one before it, seals missing inside a chain, and rows
-- below the sealed horizon that have no seal (put there by hand).
CREATE OR REPLACE FUNCTION shared.verify_audit_chain()
    RETURNS TABLE (table_schema text, table_name text, chain_seq bigint, audit_id bigint, problem text)
    LANGUAGE sql
    STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH chain AS (
        SELECT s.*, a.id AS found_id,
               shared.digest(coalesce(s.prev_hash, ''::bytea) || shared.audit_content(a), 'sha256') AS recomputed,
               lag(s.row_hash) OVER w AS previous_hash, lag(s.chain_seq) OVER w AS previous_seq
          FROM shared.audit_seals s
          LEFT JOIN shared.audit_log a ON a.id = s.audit_id AND a.occurred_at = s.occurred_at
        WINDOW w AS (PARTITION BY s.table_schema, s.table_name ORDER BY s.chain_seq)
    )
    SELECT c.table_schema, c.table_name, c.chain_seq, c.audit_id,
           CASE WHEN c.found_id IS NULL THEN 'row missing: the audit row this seal covers was deleted'
                WHEN c.row_hash <> c.recomputed THEN 'content changed: the row no longer matches its seal'
                WHEN c.chain_seq <> coalesce(c.previous_seq, 0) + 1
                     THEN format('%s seal(s) missing before this one', c.chain_seq - coalesce(c.previous_seq, 0) - 1)
                ELSE 'chain broken: the seal does not follow the one before it' END
      FROM chain c
     WHERE c.found_id IS NULL
        OR c.row_hash <> c.recomputed
        OR c.chain_seq <> coalesce(c.previous_seq, 0) + 1
        OR c.prev_hash IS DISTINCT FROM c.previous_hash
    UNION ALL
    SELECT a.table_schema, a.table_name, NULL, a.id, 'never sealed: a row below the sealed horizon without a seal (added by hand)'
      FROM shared.audit_log a, shared.audit_seal_state st
     WHERE a.txid < st.sealed_below_txid
       AND NOT EXISTS (SELECT FROM shared.audit_seals s WHERE s.audit_id = a.id)
    ORDER BY 1, 2, 3, 4
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
    RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'The audit trail is evidence: nothing in it is ever changed or removed.';
END
$$;

CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON shared.audit_log
    FOR EACH ROW EXECUTE FUNCTION shared.audit_log_append_only();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON shared.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION shared.audit_log_append_only();
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON shared.audit_seals
    FOR EACH ROW EXECUTE FUNCTION shared.audit_log_append_only();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON shared.audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION shared.audit_log_append_only();

-- ---------------------------------------------------------------------------------------------
-- Privileges: the owner alone reads the trail and runs its functions
-- ---------------------------------------------------------------------------------------------

-- The service roles and trading_readonly lose every privilege on a table and its partitions
-- (02's grant matrix gives them SELECT on all of shared, also when psql runs 02 again).
CREATE OR REPLACE FUNCTION shared.restrict_to_owner(target regclass)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reader    name;
    relation  regclass;
BEGIN
    FOREACH reader IN ARRAY ARRAY['data_ingestion_user', 'strategy_engine_user', 'execution_user',
                                  'risk_management_user', 'analytics_user', 'notification_user',
                                  'logging_user', 'trading_readonly']::name[]
    LOOP
        CONTINUE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = reader);
        FOR relation IN SELECT target UNION ALL SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = target LOOP
            EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', relation, reader);
        END LOOP;
    END LOOP;
END
$$;

SELECT shared.restrict_to_owner(t) FROM unnest('{shared.audit_log, shared.audit_seals, shared.audit_seal_state}'::regclass[]) AS t;

-- New tables in shared are no longer readable by default (a new month of audit_log would
-- otherwise be): a later migration grants what it means to share.
DO $$
DECLARE
    reader name;
BEGIN
    FOR reader IN SELECT rolname FROM pg_roles
                   WHERE rolname IN ('data_ingestion_user', 'strategy_engine_user', 'execution_user', 'risk_management_user',
                                     'analytics_user', 'notification_user', 'logging_user', 'trading_readonly')
    LOOP
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA shared REVOKE SELECT ON TABLES FROM %I', reader);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION shared.audit_row_change(), shared.audit_table(regclass, text[]),
    shared.audit_content(shared.audit_log), shared.seal_audit_log(integer), shared.verify_audit_chain(),
    shared.audit_log_append_only(), shared.restrict_to_owner(regclass)
    FROM PUBLIC, data_ingestion_user, strategy_engine_user, execution_user, risk_management_user,
         analytics_user, notification_user, logging_user;
