import type pg from 'pg';

/** A row of strategy_engine.strategy_performance: one strategy's day. */
export interface StrategyPerformanceRow {
  strategyId: number;
  asOf: string;
  trades: number;
  winRate: string | null;
  profitFactor: string | null;
  realizedPnl: string | null;
}

/**
 * Daily performance per strategy, summed over every account's fills of its orders. Recording
 * goes through strategy_engine.record_daily_performance (sql/migrations/0002_...), the one door
 * by which the strategy engine's role sees aggregates of trades it may not read row by row.
 */
export class StrategyPerformance {
  constructor(private readonly pool: pg.Pool) {}

  /** Writes (or rewrites) every strategy's row for the UTC day `day` (YYYY-MM-DD); returns how many. */
  async record(day: string): Promise<number> {
    const { rows } = await this.pool.query<{ written: number }>('SELECT strategy_engine.record_daily_performance($1::date) AS written', [day]);
    return rows[0]!.written;
  }

  async list(strategyId: number, range: { from?: string; to?: string } = {}): Promise<StrategyPerformanceRow[]> {
    const { rows } = await this.pool.query<StrategyPerformanceRow>(
      `SELECT strategy_id::float8 AS "strategyId", to_char(as_of, 'YYYY-MM-DD') AS "asOf", trades, trim_scale(win_rate)::text AS "winRate",
              trim_scale(profit_factor)::text AS "profitFactor", trim_scale(realized_pnl)::text AS "realizedPnl"
         FROM strategy_engine.strategy_performance
        WHERE strategy_id = $1 AND ($2::date IS NULL OR as_of >= $2) AND ($3::date IS NULL OR as_of <= $3)
        ORDER BY as_of`,
      [strategyId, range.from ?? null, range.to ?? null],
    );
    return rows;
  }
}
