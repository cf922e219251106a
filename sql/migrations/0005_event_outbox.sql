-- tradedb migration 0005: the transactional outbox and what consumers keep.
--
-- Every change other services care about writes an event row into shared.event_outbox in the
-- same transaction as the change: the trading tables through the statement triggers below (no
-- code path can forget them), anything else through shared.publish_event. The relay (tradedb
-- relay, run by `npm start`, as the owner role) claims pending rows of the lanes it can lock, publishes them
-- to Redis Streams (or, without Redis, numbers them into the PostgreSQL stream) and marks them
-- sent. Consumers record each handled event in shared.processed_events inside their own
-- transaction, which is what makes a redelivered event harmless.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

-- ---------------------------------------------------------------------------------------------
-- What every outbox row derives (used by the table's defaults and generated column). Every name
-- in these and the functions below is schema-qualified instead of a SET search_path clause,
-- which would cost a GUC save and restore on each trigger call in the order flow.
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION shared.outbox_lane(aggregate_type text, aggregate_id text)
    RETURNS smallint
    LANGUAGE sql
    IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (pg_catalog.hashtext(aggregate_type OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) aggregate_id)
            OPERATOR(pg_catalog.&) 15)::smallint
$$;

-- The transaction's correlation and causation ids, set by the application with
-- set_config('tradedb.correlation_id', ..., true).
CREATE OR REPLACE FUNCTION shared.current_correlation_id()
    RETURNS text
    LANGUAGE sql
    STABLE
AS $$ SELECT NULLIF(pg_catalog.current_setting('tradedb.correlation_id', true), '') $$;

CREATE OR REPLACE FUNCTION shared.current_causation_id()
    RETURNS text
    LANGUAGE sql
    STABLE
AS $$ SELECT NULLIF(pg_catalog.current_setting('tradedb.causation_id', true), '') $$;

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS shared.event_outbox (
    -- Commit order is not id order, so id only orders rows within one aggregate (whose writers
    -- serialize on the aggregate's row lock) and within one lane.
    id                bigint      GENERATED ALWAYS AS IDENTITY,
    event_id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    topic             text        NOT NULL CHECK (topic ~ '^[a-z][a-z0-9-]{0,39}$'),
    event_type        text        NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    aggregate_type    text        NOT NULL CHECK (btrim(aggregate_type) <> ''),
    aggregate_id      text        NOT NULL CHECK (btrim(aggregate_id) <> ''),
    -- The aggregate's row version after the change, where it has one: consumers that see two
    -- changes of one aggregate out of order keep the higher.
    aggregate_version bigint,
    -- Events of one aggregate share a lane; one relay at a time publishes a lane, in id order.
    lane              smallint    NOT NULL GENERATED ALWAYS AS (shared.outbox_lane(aggregate_type, aggregate_id)) STORED,
    occurred_at       timestamptz NOT NULL DEFAULT now(),
    correlation_id    text        DEFAULT shared.current_correlation_id(),
    causation_id      text        DEFAULT shared.current_causation_id(),
    payload           jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    -- Null while pending. published_to names the sink that has it: a Redis server's run id, or
    -- 'postgres'. A sink that restarted empty (Redis keeps nothing on disk) gets the retained
    -- rows again.
    published_at      timestamptz,
    published_to      text,
    -- The PostgreSQL stream's position (no-Redis mode): assigned by one relay at a time, so it
    -- grows in commit order and a consumer's cursor never skips a row.
    stream_seq        bigint,
    CONSTRAINT event_outbox_published_check CHECK ((published_at IS NULL) = (published_to IS NULL))
);
CREATE INDEX IF NOT EXISTS idx_event_outbox_pending ON shared.event_outbox (lane, id) WHERE published_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS idx_event_outbox_stream_seq ON shared.event_outbox (stream_seq) WHERE stream_seq IS NOT NULL;
-- Numbers of the PostgreSQL stream; a sequence, so pruning old rows never reuses one.
CREATE SEQUENCE IF NOT EXISTS shared.event_stream_seq AS bigint;
CREATE INDEX IF NOT EXISTS idx_event_outbox_published_at ON shared.event_outbox (published_at) WHERE published_at IS NOT NULL;

-- One row per lane: locking it (FOR UPDATE SKIP LOCKED) is how a relay owns the lane for one
-- batch; sink says where the lane's retained rows were last published.
CREATE TABLE IF NOT EXISTS shared.outbox_lanes (
    lane      smallint    PRIMARY KEY CHECK (lane BETWEEN 0 AND 15),
    sink      text,
    served_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO shared.outbox_lanes (lane) SELECT generate_series(0, 15) ON CONFLICT DO NOTHING;

-- Written in the handler's transaction: an event whose row is here was handled, once.
CREATE TABLE IF NOT EXISTS shared.processed_events (
    consumer_group text        NOT NULL CHECK (btrim(consumer_group) <> ''),
    event_id       uuid        NOT NULL,
    processed_at   timestamptz NOT NULL DEFAULT now(),
    -- 'handled', or 'dead-lettered' when the handler failed too often and the event was set aside.
    outcome        text        NOT NULL DEFAULT 'handled' CHECK (outcome IN ('handled', 'dead-lettered')),
    PRIMARY KEY (consumer_group, event_id)
);
CREATE INDEX IF NOT EXISTS idx_processed_events_processed_at ON shared.processed_events (processed_at);

-- Handler failures per group and event (outside the failed transaction, so they survive it).
CREATE TABLE IF NOT EXISTS shared.event_consumer_failures (
    consumer_group  text        NOT NULL,
    event_id        uuid        NOT NULL,
    attempts        integer     NOT NULL CHECK (attempts > 0),
    last_error      text        NOT NULL,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, event_id)
);

-- The PostgreSQL stream's consumer groups (no-Redis mode): how far each group has handled.
CREATE TABLE IF NOT EXISTS shared.event_consumer_offsets (
    consumer_group text        PRIMARY KEY CHECK (btrim(consumer_group) <> ''),
    last_seq       bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- What the group reads, for its lag in `tradedb status`.
    topics         text[]      NOT NULL DEFAULT '{}',
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- Publishing and relaying
-- ---------------------------------------------------------------------------------------------

-- The event as it travels (the envelope of src/events/event-envelope.ts), built where the row is,
-- so that relays and consumers receive one JSON text per event.
CREATE OR REPLACE FUNCTION shared.event_envelope(o shared.event_outbox)
    RETURNS text
    LANGUAGE sql
    STABLE
AS $$
    SELECT pg_catalog.json_build_object(
        'eventId', o.event_id, 'type', o.event_type, 'topic', o.topic,
        'aggregate', pg_catalog.json_build_object('type', o.aggregate_type, 'id', o.aggregate_id, 'version', o.aggregate_version),
        'occurredAt', pg_catalog.to_char(o.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'correlationId', o.correlation_id, 'causationId', o.causation_id, 'payload', o.payload)::text
$$;

-- For events the application publishes itself (the payload was checked against the event
-- catalogue before it got here). A given event id is stored once: publishing it again returns
-- null and changes nothing, so a producer may retry.
CREATE OR REPLACE FUNCTION shared.publish_event(
    event_topic text, event_type text, event_aggregate_type text, event_aggregate_id text,
    event_aggregate_version bigint, event_payload jsonb, event_correlation_id text DEFAULT NULL,
    event_causation_id text DEFAULT NULL, event_id uuid DEFAULT NULL)
    RETURNS uuid
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stored uuid;
BEGIN
    INSERT INTO shared.event_outbox AS o (event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version,
                                          correlation_id, causation_id, payload)
    VALUES (coalesce(event_id, gen_random_uuid()), event_topic, event_type, event_aggregate_type, event_aggregate_id,
            event_aggregate_version, coalesce(event_correlation_id, shared.current_correlation_id()),
            coalesce(event_causation_id, shared.current_causation_id()), event_payload)
    ON CONFLICT ON CONSTRAINT event_outbox_pkey DO NOTHING
    RETURNING o.event_id INTO stored;
    RETURN stored;
END
$$;

-- One notification per publishing statement wakes the relays; the payload is empty so that a
-- transaction's notifications fold into one.
CREATE OR REPLACE FUNCTION shared.notify_outbox()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('tradedb_outbox', '');
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER notify_relay AFTER INSERT ON shared.event_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION shared.notify_outbox();

-- The trading tables' events, one outbox row per changed row, built from the statement's
-- transition tables (one trigger call per statement, also for the batch fill path). Numbers
-- travel as text: they are NUMERIC and must stay exact.

CREATE OR REPLACE FUNCTION execution.order_event_payload(o execution.orders, from_status text)
    RETURNS jsonb
    LANGUAGE sql
    IMMUTABLE
AS $$
    SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'accountId', o.account_id, 'orderId', o.id, 'clientOrderId', o.client_order_id, 'symbol', o.symbol,
        'side', o.side, 'orderType', o.order_type, 'timeInForce', o.time_in_force,
        'quantity', pg_catalog.trim_scale(o.quantity)::text,
        'limitPrice', pg_catalog.trim_scale(o.limit_price)::text, 'stopPrice', pg_catalog.trim_scale(o.stop_price)::text,
        'fromStatus', from_status, 'status', o.status,
        'filledQuantity', pg_catalog.trim_scale(o.filled_quantity)::text,
        'averageFillPrice', pg_catalog.trim_scale(o.average_fill_price)::text,
        'strategyId', o.strategy_id, 'signalId', o.signal_id, 'version', o.version))
$$;

CREATE OR REPLACE FUNCTION execution.publish_order_inserts()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'orders', 'order.placed', 'order', n.account_id OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) n.id,
           n.version, execution.order_event_payload(n, NULL)
      FROM new_orders n
     ORDER BY n.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION execution.publish_order_updates()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'orders', 'order.updated', 'order', n.account_id OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) n.id,
           n.version, execution.order_event_payload(n, o.status)
      FROM new_orders n
      JOIN old_orders o ON o.account_id OPERATOR(pg_catalog.=) n.account_id AND o.id OPERATOR(pg_catalog.=) n.id
     WHERE (n.status, n.filled_quantity, n.version, n.broker_order_id)
           IS DISTINCT FROM (o.status, o.filled_quantity, o.version, o.broker_order_id)
     ORDER BY n.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION execution.publish_trade_inserts()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'trades', 'trade.executed', 'trade', t.account_id OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) t.id, 1,
           pg_catalog.jsonb_build_object(
               'accountId', t.account_id, 'tradeId', t.id, 'orderId', t.order_id, 'brokerFillId', t.broker_fill_id,
               'symbol', t.symbol, 'side', t.side, 'quantity', pg_catalog.trim_scale(t.quantity)::text,
               'price', pg_catalog.trim_scale(t.price)::text, 'fees', pg_catalog.trim_scale(t.fees)::text,
               'realizedPnl', pg_catalog.trim_scale(t.realized_pnl)::text, 'executedAt', t.executed_at)
      FROM new_trades t
     ORDER BY t.id;
    RETURN NULL;
END
$$;

-- A position's first row is written empty and then filled in (lock_position): only rows that
-- hold something, or changed, are news.
CREATE OR REPLACE FUNCTION execution.publish_positions(changed execution.positions[])
    RETURNS void
    LANGUAGE sql
    SECURITY DEFINER
AS $$
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'positions', 'position.changed', 'position',
           n.account_id OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) n.symbol, n.version,
           pg_catalog.jsonb_build_object(
               'accountId', n.account_id, 'symbol', n.symbol, 'quantity', pg_catalog.trim_scale(n.quantity)::text,
               'averageCost', pg_catalog.trim_scale(n.average_cost)::text,
               'realizedPnl', pg_catalog.trim_scale(n.realized_pnl)::text, 'version', n.version)
      FROM pg_catalog.unnest(changed) AS n
     ORDER BY n.account_id, n.symbol
$$;

CREATE OR REPLACE FUNCTION execution.publish_position_inserts()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    PERFORM execution.publish_positions(ARRAY(
        SELECT n::execution.positions FROM new_positions n
         WHERE n.quantity OPERATOR(pg_catalog.<>) 0 OR n.realized_pnl OPERATOR(pg_catalog.<>) 0));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION execution.publish_position_updates()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    PERFORM execution.publish_positions(ARRAY(
        SELECT n::execution.positions FROM new_positions n
          JOIN old_positions o ON o.account_id OPERATOR(pg_catalog.=) n.account_id
                              AND o.symbol OPERATOR(pg_catalog.=) n.symbol
         WHERE (o.quantity, o.average_cost, o.realized_pnl) IS DISTINCT FROM (n.quantity, n.average_cost, n.realized_pnl)));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION risk_management.publish_risk_events()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'risk', 'risk.breached', 'account', r.account_id, NULL, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'accountId', r.account_id, 'riskEventId', r.id, 'riskLimitId', r.risk_limit_id,
               'eventType', r.event_type, 'severity', r.severity, 'detail', r.detail, 'context', r.context,
               'orderId', r.order_id, 'occurredAt', r.occurred_at))
      FROM new_risk_events r
     ORDER BY r.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION strategy_engine.publish_signals()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'signals', 'signal.generated', 'strategy', s.strategy_id::text, NULL,
           pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'signalId', s.id, 'strategyId', s.strategy_id, 'accountId', s.account_id, 'symbol', s.symbol,
               'signalType', s.signal_type, 'strength', pg_catalog.trim_scale(s.strength)::text,
               'price', pg_catalog.trim_scale(s.price)::text, 'quantity', pg_catalog.trim_scale(s.quantity)::text,
               'generatedAt', s.generated_at))
      FROM new_signals s
     ORDER BY s.id;
    RETURN NULL;
END
$$;

-- An ingestion run is news when it ends: consumers (the latest-bar cache, analytics) re-read
-- what it wrote.
CREATE OR REPLACE FUNCTION data_ingestion.publish_finished_runs()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'ingestion', 'ingestion.run_finished', 'ingestion_run', n.id::text, NULL,
           pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'runId', n.id, 'source', n.source, 'interval', n.interval, 'status', n.status,
               'rowsRead', n.rows_read, 'rowsInserted', n.rows_inserted, 'rowsUpdated', n.rows_updated,
               'rowsUnchanged', n.rows_unchanged, 'rowsRejected', n.rows_rejected, 'error', n.error,
               'parameters', n.parameters, 'finishedAt', n.finished_at))
      FROM new_runs n
      JOIN old_runs o ON o.id OPERATOR(pg_catalog.=) n.id
     WHERE o.status OPERATOR(pg_catalog.=) 'running' AND n.status OPERATOR(pg_catalog.<>) 'running'
     ORDER BY n.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION shared.publish_config_changes()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'config', 'config.changed', 'system_config', c.key, c.version, pg_catalog.jsonb_build_object('key', c.key, 'value', c.value, 'version', c.version, 'updatedBy', c.updated_by)
      FROM new_config c
     ORDER BY c.key;
    RETURN NULL;
END
$$;

-- Transition tables allow one event per trigger, hence a trigger for each.
CREATE OR REPLACE TRIGGER publish_inserts AFTER INSERT ON execution.orders
    REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT EXECUTE FUNCTION execution.publish_order_inserts();
CREATE OR REPLACE TRIGGER publish_updates AFTER UPDATE ON execution.orders
    REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
    FOR EACH STATEMENT EXECUTE FUNCTION execution.publish_order_updates();
CREATE OR REPLACE TRIGGER publish_inserts AFTER INSERT ON execution.trades
    REFERENCING NEW TABLE AS new_trades FOR EACH STATEMENT EXECUTE FUNCTION execution.publish_trade_inserts();
CREATE OR REPLACE TRIGGER publish_inserts AFTER INSERT ON execution.positions
    REFERENCING NEW TABLE AS new_positions FOR EACH STATEMENT EXECUTE FUNCTION execution.publish_position_inserts();
CREATE OR REPLACE TRIGGER publish_updates AFTER UPDATE ON execution.positions
    REFERENCING OLD TABLE AS old_positions NEW TABLE AS new_positions
    FOR EACH STATEMENT EXECUTE FUNCTION execution.publish_position_updates();
CREATE OR REPLACE TRIGGER publish_inserts AFTER INSERT ON risk_management.risk_events
    REFERENCING NEW TABLE AS new_risk_events FOR EACH STATEMENT EXECUTE FUNCTION risk_management.publish_risk_events();
CREATE OR REPLACE TRIGGER publish_inserts AFTER INSERT ON strategy_engine.strategy_signals
    REFERENCING NEW TABLE AS new_signals FOR EACH STATEMENT EXECUTE FUNCTION strategy_engine.publish_signals();
CREATE OR REPLACE TRIGGER publish_finished AFTER UPDATE ON data_ingestion.ingestion_runs
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION data_ingestion.publish_finished_runs();
CREATE OR REPLACE TRIGGER publish_inserts AFTER INSERT ON shared.system_config
    REFERENCING NEW TABLE AS new_config FOR EACH STATEMENT EXECUTE FUNCTION shared.publish_config_changes();
CREATE OR REPLACE TRIGGER publish_updates AFTER UPDATE ON shared.system_config
    REFERENCING NEW TABLE AS new_config FOR EACH STATEMENT EXECUTE FUNCTION shared.publish_config_changes();

-- ---------------------------------------------------------------------------------------------
-- Consuming: service roles only read shared, so a handler's transaction records its progress
-- through these definer-rights functions.
-- ---------------------------------------------------------------------------------------------

-- True the first time a group handles an event; false (and nothing written) after that. A second
-- handler of the same event waits here for the first one's transaction, then gets false.
CREATE OR REPLACE FUNCTION shared.mark_event_processed(group_name text, handled_event uuid, handled_outcome text DEFAULT 'handled')
    RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO shared.processed_events (consumer_group, event_id, outcome)
    VALUES (group_name, handled_event, handled_outcome)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

-- Counts a handler failure and returns the attempts so far.
CREATE OR REPLACE FUNCTION shared.record_event_failure(group_name text, failed_event uuid, failure text)
    RETURNS integer
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO shared.event_consumer_failures AS f (consumer_group, event_id, attempts, last_error)
    VALUES (group_name, failed_event, 1, left(failure, 2000))
    ON CONFLICT (consumer_group, event_id)
    DO UPDATE SET attempts = f.attempts + 1, last_error = excluded.last_error, last_failed_at = now()
    RETURNING attempts
$$;

-- No-Redis mode: takes the group's cursor for this transaction and returns it, or null when
-- another consumer of the group holds it (one consumer per group reads at a time).
CREATE OR REPLACE FUNCTION shared.lock_event_offset(group_name text, group_topics text[])
    RETURNS bigint
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    position bigint;
BEGIN
    INSERT INTO shared.event_consumer_offsets (consumer_group, topics) VALUES (group_name, group_topics)
    ON CONFLICT DO NOTHING;
    SELECT last_seq INTO position FROM shared.event_consumer_offsets
     WHERE consumer_group = group_name FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        UPDATE shared.event_consumer_offsets SET topics = group_topics
         WHERE consumer_group = group_name AND topics IS DISTINCT FROM group_topics;
    END IF;
    RETURN position;
END
$$;

CREATE OR REPLACE FUNCTION shared.advance_event_offset(group_name text, handled_seq bigint)
    RETURNS void
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE shared.event_consumer_offsets
       SET last_seq = greatest(last_seq, handled_seq), updated_at = now()
     WHERE consumer_group = group_name
$$;

RESET ROLE;
RESET client_min_messages;
