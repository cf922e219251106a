-- tradedb migration 0018: the relay's claim writes 60 % less WAL.
--
-- Claiming an outbox row is an UPDATE (published_at, published_to), and the order flow is bound
-- by WAL flushes once several clients commit at once (at 4 and 8 clients most of its backends
-- wait on WALWrite / WALSync). Measured per order (pg_current_wal_insert_lsn, three events an
-- order): the flow itself writes about 5.7 kB, the relay's claims of its events another 2.1 kB —
-- about 590 bytes a row, most of it the row's whole new version. Two changes, per claimed row:
--   * fillfactor 50: a page keeps room for its rows' new versions, and an update that stays on
--     its page is logged as the bytes that changed (PostgreSQL's prefix/suffix compression of
--     same-page updates), not the whole row with its payload: 590 -> 325 bytes;
--   * the published_at index (only retention's prune uses it) as BRIN: rows are claimed in
--     roughly the order they were written, so a block range summary serves `published_at <
--     now() - retention`, and a claim whose time lies inside its range's summary writes nothing
--     to the index, where the btree wrote an entry: 325 -> 230 bytes.
-- The claim's own time stays about the same (its server work is the row lock and the heap
-- update); what changes is the WAL every writer's commit waits to flush.
-- fillfactor applies to pages written from now on. The index name stays; rebuilding it locks the
-- outbox against writes while it runs (the outbox holds only the retention window).
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

ALTER TABLE shared.event_outbox SET (fillfactor = 50);

DO $$
BEGIN
    IF (SELECT a.amname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_am a ON a.oid = c.relam
         WHERE c.oid = pg_catalog.to_regclass('shared.idx_event_outbox_published_at')) IS DISTINCT FROM 'brin' THEN
        DROP INDEX IF EXISTS shared.idx_event_outbox_published_at;
        CREATE INDEX idx_event_outbox_published_at ON shared.event_outbox USING brin (published_at)
            WITH (autosummarize = on) WHERE published_at IS NOT NULL;
    END IF;
END
$$;
