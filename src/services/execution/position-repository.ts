import type { Queryable } from '../../db/queryable.ts';
import type { PositionRow } from './order-table.ts';

/** The position's columns as PositionRow, qualified and prefixed as orderColumns does. */
export function positionColumns(table = 'execution.positions', prefix = ''): string {
  const t = table;
  const p = prefix;
  return `${t}.account_id AS "${p}accountId", ${t}.symbol AS "${p}symbol", trim_scale(${t}.quantity)::text AS "${p}quantity",
    trim_scale(${t}.average_cost)::text AS "${p}averageCost", trim_scale(${t}.realized_pnl)::text AS "${p}realizedPnl", ${t}.version AS "${p}version"`;
}
const POSITION_COLUMNS = positionColumns();

/** SQL for execution.positions. */
export const positionRepository = {
  /** Creates the missing positions of `symbols` and locks all of them, in symbol order (no deadlocks between batches). */
  async lockMany(db: Queryable, accountId: string, symbols: readonly string[]): Promise<PositionRow[]> {
    const sorted = [...new Set(symbols)].sort();
    await db.query(
      'INSERT INTO execution.positions (account_id, symbol) SELECT $1, s FROM unnest($2::text[]) AS s ORDER BY s ON CONFLICT (account_id, symbol) DO NOTHING',
      [accountId, sorted],
    );
    const { rows } = await db.query<PositionRow>(`SELECT ${POSITION_COLUMNS} FROM execution.positions WHERE account_id = $1 AND symbol = ANY($2) ORDER BY symbol FOR UPDATE`, [accountId, sorted]);
    return rows;
  },

  /** Writes new states of locked positions, one statement for all. */
  async saveMany(db: Queryable, accountId: string, states: ReadonlyArray<{ symbol: string; quantity: string; averageCost: string; realizedPnl: string }>): Promise<PositionRow[]> {
    const { rows } = await db.query<PositionRow>(
      `UPDATE execution.positions AS p
          SET quantity = v.quantity, average_cost = v.average_cost, realized_pnl = v.realized_pnl, version = p.version + 1
         FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[]) AS v (symbol, quantity, average_cost, realized_pnl)
        WHERE p.account_id = $1 AND p.symbol = v.symbol
        RETURNING ${positionColumns('p')}`,
      [accountId, states.map((state) => state.symbol), states.map((state) => state.quantity), states.map((state) => state.averageCost), states.map((state) => state.realizedPnl)],
    );
    return rows;
  },

  async find(db: Queryable, accountId: string, symbol: string, options: { forUpdate?: boolean } = {}): Promise<PositionRow | undefined> {
    const { rows } = await db.query<PositionRow>(
      `SELECT ${POSITION_COLUMNS} FROM execution.positions WHERE account_id = $1 AND symbol = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [accountId, symbol],
    );
    return rows[0];
  },

  async list(db: Queryable, accountId: string): Promise<PositionRow[]> {
    const { rows } = await db.query<PositionRow>(`SELECT ${POSITION_COLUMNS} FROM execution.positions WHERE account_id = $1 ORDER BY symbol`, [accountId]);
    return rows;
  },
};
