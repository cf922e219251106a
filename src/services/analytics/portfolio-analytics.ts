import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { UserFacingError } from '../../db/errors.ts';
import type { Queryable } from '../../db/queryable.ts';
import { latestCloseSql } from '../data-ingestion/latest-close-sql.ts';

export interface PortfolioSummaryRow {
  accountId: string;
  asOf: Date;
  cash: string;
  marketValue: string;
  equity: string;
  grossExposure: string;
  netExposure: string;
  realizedPnl: string;
  unrealizedPnl: string;
}

export interface PerformanceRow {
  period: string;
  periodStart: string;
  periodEnd: string;
  returns: string | null;
  volatility: string | null;
  sharpe: string | null;
  maxDrawdown: string | null;
  trades: number;
  winRate: string | null;
  realizedPnl: string | null;
}

/** A stored summary as PortfolioSummaryRow (amounts as exact decimal text). */
const SUMMARY_COLUMNS = `account_id AS "accountId", as_of AS "asOf", trim_scale(cash)::text AS cash, trim_scale(market_value)::text AS "marketValue",
          trim_scale(equity)::text AS equity, trim_scale(gross_exposure)::text AS "grossExposure",
          trim_scale(net_exposure)::text AS "netExposure", trim_scale(realized_pnl)::text AS "realizedPnl",
          trim_scale(unrealized_pnl)::text AS "unrealizedPnl"`;

/** A stored performance row as PerformanceRow. */
const PERFORMANCE_COLUMNS = `period, period_start::text AS "periodStart", period_end::text AS "periodEnd", trim_scale(returns)::text AS returns,
          trim_scale(volatility)::text AS volatility, trim_scale(sharpe)::text AS sharpe, trim_scale(max_drawdown)::text AS "maxDrawdown",
          trades, trim_scale(win_rate)::text AS "winRate", trim_scale(realized_pnl)::text AS "realizedPnl"`;

/**
 * The account as of `$2`, from raw rows only — starting cash, the trades executed by then, and
 * the close of the last bar ended by then (the last trade price where there is none) — so a
 * recompute always gives the same numbers. Cash moves by each trade's value and fees; unrealized
 * P&L is what equity holds beyond starting cash and realized P&L. Amounts round to 8 decimals.
 */
const SUMMARY = `
WITH fills AS (
    SELECT id, symbol, side, quantity, price, fees, realized_pnl, executed_at
      FROM execution.trades WHERE account_id = $1 AND executed_at <= $2),
held AS (
    SELECT symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS quantity FROM fills GROUP BY symbol),
priced AS (
    SELECT h.symbol, h.quantity,
           coalesce(${latestCloseSql('h.symbol', '$2')},
                    (SELECT f.price FROM fills f WHERE f.symbol = h.symbol ORDER BY f.executed_at DESC, f.id DESC LIMIT 1)) AS price
      FROM held h WHERE h.quantity <> 0),
totals AS (
    SELECT a.starting_cash
             - coalesce((SELECT sum(CASE side WHEN 'buy' THEN quantity * price ELSE -quantity * price END) + sum(fees) FROM fills), 0) AS cash,
           coalesce((SELECT sum(quantity * price) FROM priced), 0) AS market_value,
           coalesce((SELECT sum(abs(quantity) * price) FROM priced), 0) AS gross,
           coalesce((SELECT sum(realized_pnl) FROM fills), 0) AS realized,
           a.starting_cash
      FROM shared.accounts a WHERE a.account_id = $1)
INSERT INTO analytics.portfolio_summary AS s (account_id, as_of, cash, market_value, equity, gross_exposure, net_exposure, realized_pnl, unrealized_pnl)
SELECT $1, $2, round(cash, 8), round(market_value, 8), round(cash + market_value, 8), round(gross, 8), round(market_value, 8),
       round(realized, 8), round(cash + market_value - starting_cash - realized, 8)
  FROM totals
ON CONFLICT (account_id, as_of) DO UPDATE SET
    cash = excluded.cash, market_value = excluded.market_value, equity = excluded.equity,
    gross_exposure = excluded.gross_exposure, net_exposure = excluded.net_exposure,
    realized_pnl = excluded.realized_pnl, unrealized_pnl = excluded.unrealized_pnl
RETURNING ${SUMMARY_COLUMNS}`;

/**
 * Performance over the daily summaries of [$2, $3]: total return, annualized volatility and
 * Sharpe of daily returns (252 trading days, no risk-free rate), max drawdown of equity, and the
 * period's trades (win rate over the fills that realized something).
 */
const PERFORMANCE = `
WITH days AS (
    SELECT as_of, equity, lag(equity) OVER (ORDER BY as_of) AS previous
      FROM analytics.portfolio_summary
     WHERE account_id = $1 AND as_of >= ($2::date)::timestamp AT TIME ZONE 'UTC' AND as_of <= ($3::date + 1)::timestamp AT TIME ZONE 'UTC'),
daily AS (SELECT as_of, equity, equity / nullif(previous, 0) - 1 AS r FROM days),
drawdowns AS (SELECT 1 - equity / nullif(max(equity) OVER (ORDER BY as_of), 0) AS dd FROM daily),
fills AS (
    SELECT realized_pnl, fees FROM execution.trades
     WHERE account_id = $1 AND executed_at >= ($2::date)::timestamp AT TIME ZONE 'UTC' AND executed_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'),
stats AS (
    SELECT (SELECT equity FROM daily ORDER BY as_of DESC LIMIT 1) / nullif((SELECT equity FROM days ORDER BY as_of LIMIT 1), 0) - 1 AS returns,
           (SELECT stddev_samp(r) FROM daily) AS sd, (SELECT avg(r) FROM daily) AS mean,
           (SELECT max(dd) FROM drawdowns) AS max_dd,
           (SELECT count(*) FROM fills) AS trades,
           -- Wins and losses among fills that closed something: fees alone (an opening fill) are neither.
           (SELECT count(*) FILTER (WHERE realized_pnl + fees > 0)::numeric / nullif(count(*) FILTER (WHERE realized_pnl + fees <> 0), 0) FROM fills) AS win_rate,
           (SELECT sum(realized_pnl) FROM fills) AS realized)
INSERT INTO analytics.performance_metrics AS p (account_id, period, period_start, period_end, returns, volatility, sharpe, max_drawdown, trades, win_rate, realized_pnl)
SELECT $1, $4, $2::date, $3::date, round(returns, 8), round(sd * sqrt(252::numeric), 8), round(mean / nullif(sd, 0) * sqrt(252::numeric), 8),
       round(greatest(max_dd, 0), 8), trades, round(win_rate, 8), round(realized, 8)
  FROM stats
ON CONFLICT ON CONSTRAINT performance_metrics_period_key DO UPDATE SET
    period_end = excluded.period_end, returns = excluded.returns, volatility = excluded.volatility, sharpe = excluded.sharpe,
    max_drawdown = excluded.max_drawdown, trades = excluded.trades, win_rate = excluded.win_rate, realized_pnl = excluded.realized_pnl
RETURNING ${PERFORMANCE_COLUMNS}`;

/** Portfolio summaries and performance metrics of an account, through the analytics role. */
export class PortfolioAnalytics {
  constructor(private readonly pool: pg.Pool) {}

  /** Computes and stores the summary as of `asOf` (replacing one stored for that instant). */
  async summarize(accountId: string, asOf: Date): Promise<PortfolioSummaryRow> {
    return withAccountTransaction(this.pool, accountId, async (client) => summarizeIn(client, accountId, asOf));
  }

  /**
   * Daily summaries at each UTC midnight from `from` through the one ending `to` (dates), then the
   * performance of that period, in one transaction: re-running it reproduces the same rows.
   */
  async performance(accountId: string, from: string, to: string, period: AnalyticsPeriod = 'inception'): Promise<{ summaries: PortfolioSummaryRow[]; performance: PerformanceRow }> {
    return withAccountTransaction(this.pool, accountId, async (client) => performanceIn(client, accountId, from, to, period));
  }

  /**
   * The close of one UTC day (`YYYY-MM-DD`): the summaries at its two midnights and its `daily`
   * performance. What the end-of-day flow computes, and what live analytics keeps current as
   * trades, positions and bars arrive: both run this, so they agree exactly.
   */
  /** The stored summaries (kept current by live analytics and the end-of-day flow), newest first. */
  async storedSummaries(accountId: string, limit: number): Promise<PortfolioSummaryRow[]> {
    return withAccountTransaction(
      this.pool,
      accountId,
      async (client) => (await client.query<PortfolioSummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM analytics.portfolio_summary WHERE account_id = $1 ORDER BY as_of DESC LIMIT $2`, [accountId, limit])).rows,
      { readOnly: true },
    );
  }

  /** The stored whole-account performance rows of a period kind (all kinds if none), newest period first. */
  async storedPerformance(accountId: string, period: AnalyticsPeriod | undefined, limit: number): Promise<PerformanceRow[]> {
    return withAccountTransaction(
      this.pool,
      accountId,
      async (client) =>
        (
          await client.query<PerformanceRow>(
            `SELECT ${PERFORMANCE_COLUMNS} FROM analytics.performance_metrics
              WHERE account_id = $1 AND strategy_id IS NULL AND ($2::text IS NULL OR period = $2)
              ORDER BY period_start DESC, period LIMIT $3`,
            [accountId, period ?? null, limit],
          )
        ).rows,
      { readOnly: true },
    );
  }

  async closeDay(accountId: string, day: string): Promise<{ summaries: PortfolioSummaryRow[]; performance: PerformanceRow }> {
    return this.performance(accountId, day, day, 'daily');
  }
}

export const ANALYTICS_PERIODS = ['daily', 'weekly', 'monthly', 'inception'] as const;
export type AnalyticsPeriod = (typeof ANALYTICS_PERIODS)[number];

/** performance() inside the caller's transaction, which must carry the account (tradedb.account_id). */
export async function performanceIn(db: Queryable, accountId: string, from: string, to: string, period: AnalyticsPeriod): Promise<{ summaries: PortfolioSummaryRow[]; performance: PerformanceRow }> {
  const summaries: PortfolioSummaryRow[] = [];
  for (let day = Date.parse(`${from}T00:00:00Z`); day <= Date.parse(`${to}T00:00:00Z`) + 86_400_000; day += 86_400_000) {
    summaries.push(await summarizeIn(db, accountId, new Date(day)));
  }
  const { rows } = await db.query<PerformanceRow>(PERFORMANCE, [accountId, from, to, period]);
  return { summaries, performance: rows[0]! };
}

async function summarizeIn(db: Queryable, accountId: string, asOf: Date): Promise<PortfolioSummaryRow> {
  const { rows } = await db.query<PortfolioSummaryRow>(SUMMARY, [accountId, asOf]);
  if (!rows[0]) throw new UserFacingError(`Unknown account ${accountId}.`);
  return rows[0];
}
