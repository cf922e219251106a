-- tradedb migration 0019: the audit trail's seals, one block per table per sealer run.
--
-- 0010 gave every audit row a seal row of its own in shared.audit_seals: a 240-byte heap tuple
-- and two btree entries, about 390 bytes of WAL per audited change — a third of what the audit
-- trail writes for an order. The chain stays what it was: each row's hash is
-- sha256(previous row's hash || shared.audit_content(row)), per table, in the order the sealer
-- chains the rows. What changes is where the hashes are kept: shared.audit_seal_blocks holds,
-- per table and sealer run, the rows' ids and their hashes as arrays in chain order, the first
-- one's place in the chain and the hash before it. About 45 bytes a row.
--
-- Which rows are sealed is now a single number: every audit row of a transaction below
-- audit_seal_state.sealed_below_txid is sealed, none above it. A backlog is sealed in parts of
-- whole transactions (a part ends after the transaction holding its max_rows-th row), so the
-- sealer never has to look a row up to know whether it is sealed.
--
-- The per-row seals written so far stay where they are and stay verified: shared.audit_chain()
-- lists every row's place in its chain from both tables, and a chain that began in audit_seals
-- goes on in the blocks.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

-- Everything 0010's sealer can seal now, so that no row above sealed_below_txid has a seal (its
-- last run is not full). On a re-run of this script the function is already the one below.
DO $$
BEGIN
    WHILE shared.seal_audit_log(5000) >= 5000 LOOP
    END LOOP;
END
$$;

CREATE TABLE IF NOT EXISTS shared.audit_seal_blocks (
    table_schema   text        NOT NULL,
    table_name     text        NOT NULL,
    -- The place in the table's chain of the block's first row.
    first_seq      bigint      NOT NULL CHECK (first_seq > 0),
    -- The chain's hash before the first row (NULL where the chain starts).
    prev_hash      bytea,
    -- The rows in chain order (ascending ids) and each one's hash.
    audit_ids      bigint[]    NOT NULL,
    row_hashes     bytea[]     NOT NULL,
    -- Lets a row's block be found by its id (`tradedb audit show`).
    audit_id_range int8range   GENERATED ALWAYS AS (int8range(audit_ids[1], audit_ids[cardinality(audit_ids)], '[]')) STORED,
    sealed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_schema, table_name, first_seq),
    CONSTRAINT audit_seal_blocks_shape CHECK (cardinality(audit_ids) > 0 AND cardinality(row_hashes) = cardinality(audit_ids))
);
-- Hashes do not compress: not worth the attempt.
ALTER TABLE shared.audit_seal_blocks ALTER COLUMN row_hashes SET STORAGE EXTERNAL;
CREATE INDEX IF NOT EXISTS idx_audit_seal_blocks_audit_id_range ON shared.audit_seal_blocks USING gist (audit_id_range);

CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON shared.audit_seal_blocks
    FOR EACH ROW EXECUTE FUNCTION shared.audit_log_append_only();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON shared.audit_seal_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION shared.audit_log_append_only();

SELECT shared.restrict_to_owner('shared.audit_seal_blocks');

-- Every sealed row's place in its table's chain, from the per-row seals of 0010 and the blocks.
-- Invoker's rights (only the owner may read the tables) and no SET clause, so that the planner
-- inlines it into the query that calls it.
CREATE OR REPLACE FUNCTION shared.audit_chain()
    RETURNS TABLE (table_schema text, table_name text, chain_seq bigint, audit_id bigint, prev_hash bytea, row_hash bytea, sealed_at timestamptz)
    LANGUAGE sql
    STABLE
AS $$
    SELECT s.table_schema, s.table_name, s.chain_seq, s.audit_id, s.prev_hash, s.row_hash, s.sealed_at
      FROM shared.audit_seals s
    UNION ALL
    SELECT b.table_schema, b.table_name, b.first_seq + e.place - 1, e.audit_id,
           CASE WHEN e.place = 1 THEN b.prev_hash ELSE b.row_hashes[e.place - 1] END, e.row_hash, b.sealed_at
      FROM shared.audit_seal_blocks b
     CROSS JOIN LATERAL unnest(b.audit_ids, b.row_hashes) WITH ORDINALITY AS e (audit_id, row_hash, place)
$$;

-- An audit row's place in its chain, or NULL while it is not sealed.
CREATE OR REPLACE FUNCTION shared.audit_chain_seq(entry_id bigint)
    RETURNS bigint
    LANGUAGE sql
    STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT s.chain_seq FROM shared.audit_seals s WHERE s.audit_id = entry_id),
        (SELECT b.first_seq + array_position(b.audit_ids, entry_id) - 1
           FROM shared.audit_seal_blocks b
          WHERE b.audit_id_range @> entry_id AND b.audit_ids @> ARRAY[entry_id]
          LIMIT 1))
$$;

-- Where a table's chain ends: its last place and hash (0 and NULL before its first seal).
CREATE OR REPLACE FUNCTION shared.audit_chain_end(chain_schema text, chain_table text, OUT last_seq bigint, OUT last_hash bytea)
    LANGUAGE sql
    STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(b.last_seq, s.chain_seq, 0), CASE WHEN b.last_seq IS NOT NULL THEN b.last_hash ELSE s.row_hash END
      FROM (SELECT) AS one
      LEFT JOIN LATERAL (SELECT x.first_seq + cardinality(x.audit_ids) - 1 AS last_seq, x.row_hashes[cardinality(x.row_hashes)] AS last_hash
                           FROM shared.audit_seal_blocks x
                          WHERE x.table_schema = chain_schema AND x.table_name = chain_table
                          ORDER BY x.first_seq DESC LIMIT 1) AS b ON true
      LEFT JOIN LATERAL (SELECT x.chain_seq, x.row_hash
                           FROM shared.audit_seals x
                          WHERE x.table_schema = chain_schema AND x.table_name = chain_table
                          ORDER BY x.chain_seq DESC LIMIT 1) AS s ON true
$$;

-- Seals the rows of every transaction that ended below the horizon (the oldest one still running
-- anywhere on the server: a transaction still running may yet add rows, which must not be
-- chained after rows that did not have to wait for it) and returns how many. Per table in id
-- order, continuing its chain, one block per table. A backlog goes in parts: a part ends with the
-- transaction of its (max_rows + 1)-th row, so a call that returns more than max_rows left
-- more to seal.
CREATE OR REPLACE FUNCTION shared.seal_audit_log(max_rows integer DEFAULT 5000)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon      bigint := txid_snapshot_xmin(txid_current_snapshot());
    sealed_below bigint;
    cutoff       bigint;
    entry        record;
    chain_table  text;
    last_seq     bigint;
    last_hash    bytea;
    schemas      text[] := '{}';
    names        text[] := '{}';
    seqs         bigint[] := '{}';
    ids          bigint[] := '{}';
    prevs        bytea[] := '{}';
    hashes       bytea[] := '{}';
BEGIN
    -- One sealer at a time: each chain grows by one writer.
    PERFORM pg_advisory_xact_lock(hashtext('shared.audit_seals'));
    SELECT st.sealed_below_txid INTO sealed_below FROM shared.audit_seal_state st;
    SELECT a.txid INTO cutoff
      FROM shared.audit_log a
     WHERE a.txid >= sealed_below AND a.txid < horizon
     ORDER BY a.txid OFFSET max_rows LIMIT 1;
    IF cutoff IS NOT NULL THEN
        horizon := cutoff + 1;
    END IF;
    FOR entry IN
        SELECT a.id, a.table_schema, a.table_name, shared.audit_content(a) AS content
          FROM shared.audit_log a
         WHERE a.txid >= sealed_below AND a.txid < horizon
         ORDER BY a.table_schema, a.table_name, a.id
    LOOP
        IF chain_table IS DISTINCT FROM entry.table_schema || '.' || entry.table_name THEN
            chain_table := entry.table_schema || '.' || entry.table_name;
            SELECT e.last_seq, e.last_hash INTO last_seq, last_hash FROM shared.audit_chain_end(entry.table_schema, entry.table_name) e;
        END IF;
        schemas := schemas || entry.table_schema;
        names := names || entry.table_name;
        ids := ids || entry.id;
        prevs := prevs || last_hash;
        last_seq := last_seq + 1;
        last_hash := shared.digest(coalesce(last_hash, ''::bytea) || entry.content, 'sha256');
        seqs := seqs || last_seq;
        hashes := hashes || last_hash;
    END LOOP;
    INSERT INTO shared.audit_seal_blocks (table_schema, table_name, first_seq, prev_hash, audit_ids, row_hashes)
    SELECT u.chain_schema, u.chain_table, min(u.seq), (array_agg(u.prev ORDER BY u.seq))[1],
           array_agg(u.id ORDER BY u.seq), array_agg(u.hash ORDER BY u.seq)
      FROM unnest(schemas, names, seqs, ids, prevs, hashes) AS u (chain_schema, chain_table, seq, id, prev, hash)
     GROUP BY u.chain_schema, u.chain_table;
    UPDATE shared.audit_seal_state SET sealed_below_txid = horizon WHERE sealed_below_txid <> horizon;
    RETURN cardinality(ids);
END
$$;

-- Every break in the chains: a row whose content no longer matches its hash, a sealed row that
-- is gone, a hash that does not follow the one before it, places missing inside a chain, and rows
-- below the sealed horizon that are in no chain (put there by hand).
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
          FROM shared.audit_chain() s
          LEFT JOIN shared.audit_log a ON a.id = s.audit_id
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
       AND NOT EXISTS (SELECT FROM shared.audit_chain() s WHERE s.audit_id = a.id)
    ORDER BY 1, 2, 3, 4
$$;

REVOKE ALL ON FUNCTION shared.audit_chain(), shared.audit_chain_seq(bigint), shared.audit_chain_end(text, text),
    shared.seal_audit_log(integer), shared.verify_audit_chain()
    FROM PUBLIC, data_ingestion_user, strategy_engine_user, execution_user, risk_management_user,
         analytics_user, notification_user, logging_user;
