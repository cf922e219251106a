-- tradedb migration 0014: marking an outbox row sent no longer re-checks its topic and type.
--
-- PostgreSQL evaluates every CHECK constraint of a table on each UPDATE, whichever columns it
-- changes: the relay's claim, which only sets published_at and published_to, spent about a fifth
-- of its server time matching the topic and event type regular expressions of rows it does not
-- change. As domains, the same rules hold wherever a value is written (an INSERT, or an UPDATE
-- that sets the column) and cost nothing when a row is marked sent. The first run rewrites the
-- outbox once (ALTER COLUMN ... TYPE), which holds only the retained rows.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

DO $$
BEGIN
    IF pg_catalog.to_regtype('shared.event_topic') IS NULL THEN
        CREATE DOMAIN shared.event_topic AS text
            CONSTRAINT event_topic_check CHECK (VALUE ~ '^[a-z][a-z0-9-]{0,39}$');
    END IF;
    IF pg_catalog.to_regtype('shared.event_type_name') IS NULL THEN
        CREATE DOMAIN shared.event_type_name AS text
            CONSTRAINT event_type_name_check CHECK (VALUE ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$');
    END IF;
    IF (SELECT atttypid FROM pg_catalog.pg_attribute
         WHERE attrelid = 'shared.event_outbox'::regclass AND attname = 'topic') <> 'shared.event_topic'::regtype THEN
        ALTER TABLE shared.event_outbox
            DROP CONSTRAINT IF EXISTS event_outbox_topic_check,
            DROP CONSTRAINT IF EXISTS event_outbox_event_type_check,
            ALTER COLUMN topic TYPE shared.event_topic,
            ALTER COLUMN event_type TYPE shared.event_type_name;
    END IF;
END
$$;

RESET ROLE;
RESET client_min_messages;
