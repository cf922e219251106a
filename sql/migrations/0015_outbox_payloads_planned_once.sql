-- tradedb migration 0015: the outbox triggers' helpers stop being parsed and planned on every call.
--
-- A SQL-language function the planner does not inline is parsed, analysed and planned again each
-- time a statement calls it (PostgreSQL 15 keeps no plan for it across statements), and a trigger
-- runs a new statement per order. Measured in the order flow (track_functions, pgbench calling
-- execution.execute_order as execution_user, one client):
--   * execution.order_event_payload was declared IMMUTABLE over a body that is only STABLE
--     (jsonb_build_object is), and the planner never inlines such a function: 1.2 ms an order,
--     40 % of the whole order flow's time in the server. Declared STABLE (which it is), it is
--     inlined into the trigger's INSERT: the order flow went from 285 to 593 transactions/s.
--   * execution.publish_positions, SQL and SECURITY DEFINER (never inlined): 0.2 ms a fill. As
--     PL/pgSQL its INSERT is planned once per connection.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

ALTER FUNCTION execution.order_event_payload(execution.orders, text) STABLE;

CREATE OR REPLACE FUNCTION execution.publish_positions(changed execution.positions[])
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
    SELECT 'positions', 'position.changed', 'position',
           n.account_id OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) n.symbol, n.version,
           pg_catalog.jsonb_build_object(
               'accountId', n.account_id, 'symbol', n.symbol, 'quantity', pg_catalog.trim_scale(n.quantity)::text,
               'averageCost', pg_catalog.trim_scale(n.average_cost)::text,
               'realizedPnl', pg_catalog.trim_scale(n.realized_pnl)::text, 'version', n.version)
      FROM pg_catalog.unnest(changed) AS n
     ORDER BY n.account_id, n.symbol;
END
$$;
