-- tradedb migration 0017: writers wake the relay only while it sleeps.
--
-- A transaction that queued a NOTIFY takes one database-wide lock at commit and holds it through
-- its WAL flush, so every writer of events committed one at a time: measured in the order flow at
-- 8 clients without a relay, 380–404 transactions/s with the notification and 478–488 without.
-- A relay that is busy claims again within its gather window anyway and needs no notification, so
-- it says so in shared.outbox_relay_watch and writers skip the NOTIFY; a relay about to sleep
-- asks for notifications again.
--
-- No event may be slept through: a writer that saw the relay awake must have committed before the
-- relay's last look. Writers hold a shared advisory lock from their event to their commit; a relay
-- going to sleep first sets notify_writes (writers from then on notify), then tries the same lock
-- exclusively — it gets it only once no writer holds it, i.e. every writer that might have seen
-- it awake is done — and only then claims one last time and sleeps; until the try succeeds it
-- stays awake (src/events/outbox-relay.ts). A try never queues, so writers never wait for a relay,
-- and the lock is shared, so they never wait for each other.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

CREATE TABLE IF NOT EXISTS shared.outbox_relay_watch (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    -- True unless a relay is awake (claiming every few milliseconds on its own): writers then NOTIFY.
    notify_writes boolean     NOT NULL DEFAULT true,
    changed_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO shared.outbox_relay_watch DEFAULT VALUES ON CONFLICT DO NOTHING;

-- Readable like the rest of shared (since 0010 new tables in shared are not, by default): by
-- every role 02's grant matrix lets read shared.accounts, so `tradedb setup` and psql running 02
-- again grant the same.
DO $$
DECLARE
    reader name;
BEGIN
    FOR reader IN SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
                   WHERE g.table_schema = 'shared' AND g.table_name = 'accounts' AND g.privilege_type = 'SELECT'
                     AND g.grantee <> current_user
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON shared.outbox_relay_watch TO %I', reader);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION shared.notify_outbox()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    -- Held to commit: no relay goes to sleep while this writer may still commit unseen (see above).
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('tradedb.outbox-relay.sleep'));
    -- A transaction's own snapshot (repeatable read, serializable) may predate the relay's going to
    -- sleep: such writers always notify.
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed'
       OR (SELECT w.notify_writes FROM shared.outbox_relay_watch w) IS NOT FALSE THEN
        PERFORM pg_catalog.pg_notify('tradedb_outbox', '');
    END IF;
    RETURN NULL;
END
$$;
