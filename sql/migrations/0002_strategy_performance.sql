-- tradedb migration 0002: daily strategy performance from the fills of each strategy's orders.
-- strategy_performance has no account: a strategy trades for any account, and its day sums the
-- fills of all of them. No service role may read every account's trades (row-level security),
-- so the strategy engine records it through this definer-rights function, which writes only
-- aggregates per strategy and day.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

-- Writes (or rewrites) each strategy's row for one UTC day: its fills, realized P&L after fees,
-- win rate over the fills that closed something (a fill that only paid fees is neither win nor
-- loss, as in analytics.performance_metrics), and profit factor (gains over losses, gross of
-- fees). Returns, volatility, Sharpe, Sortino and drawdown need capital, which a strategy does not
-- have apart from its accounts: they stay null here (analytics.performance_metrics has them per
-- account). Running it again for a day gives the same row. Returns how many strategies it wrote.
CREATE OR REPLACE FUNCTION strategy_engine.record_daily_performance(day date)
    RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    written integer;
BEGIN
    IF day IS NULL THEN
        RAISE EXCEPTION 'day: a date is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO strategy_engine.strategy_performance AS p (strategy_id, as_of, trades, win_rate, profit_factor, realized_pnl)
    SELECT o.strategy_id, day, count(*)::integer,
           round(count(*) FILTER (WHERE t.realized_pnl + t.fees > 0)::numeric
                 / nullif(count(*) FILTER (WHERE t.realized_pnl + t.fees <> 0), 0), 8),
           round(coalesce(sum(t.realized_pnl + t.fees) FILTER (WHERE t.realized_pnl + t.fees > 0), 0)
                 / nullif(sum(-(t.realized_pnl + t.fees)) FILTER (WHERE t.realized_pnl + t.fees < 0), 0), 8),
           sum(t.realized_pnl)
      FROM execution.trades t
      JOIN execution.orders o ON o.account_id = t.account_id AND o.id = t.order_id
     WHERE o.strategy_id IS NOT NULL
       AND t.executed_at >= day::timestamp AT TIME ZONE 'UTC'
       AND t.executed_at < (day + 1)::timestamp AT TIME ZONE 'UTC'
     GROUP BY o.strategy_id
    ON CONFLICT (strategy_id, as_of) DO UPDATE
       SET trades = excluded.trades, win_rate = excluded.win_rate, profit_factor = excluded.profit_factor,
           realized_pnl = excluded.realized_pnl;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;

RESET ROLE;
RESET client_min_messages;
