import type { Queryable } from '../../db/queryable.ts';
import type { PositionRow } from './order-table.ts';

/** The position's columns as PositionRow, qualified by `table` where a statement joins another. */
function positionColumns(table = 'execution.positions'): string {
  return `${table}.account_id AS "accountId", ${table}.symbol, trim_scale(${table}.quantity)::text AS quantity,
    trim_scale(${table}.average_cost)::text AS "averageCost", trim_scale(${table}.realized_pnl)::text AS "realizedPnl", ${table}.version`;
}
const POSITION_COLUMNS = positionColumns();

/**
 * A fill's effect on a position, in one UPDATE so that concurrent fills of one position queue on
 * its row and each applies to the row as the previous one left it (exact numeric arithmetic):
 * - adding to the position (or opening it): the average cost becomes the quantity-weighted mean;
 * - reducing it: realized P&L gains (price - average cost) per unit closed, signed by the side
 *   held; the average cost stays;
 * - flipping through zero: the closed part realizes as above and the rest opens at the fill price;
 * - fees always reduce realized P&L.
 * $3 is the signed fill quantity (buy +, sell -).
 */
const APPLY_FILL = `WITH before AS (
    SELECT realized_pnl FROM execution.positions WHERE account_id = $1 AND symbol = $2 FOR UPDATE)
  UPDATE execution.positions AS p SET
    quantity = p.quantity + $3::numeric,
    average_cost = CASE
        WHEN p.quantity + $3::numeric = 0 THEN 0
        WHEN p.quantity = 0 OR sign(p.quantity) = sign($3::numeric)
            THEN round((abs(p.quantity) * p.average_cost + abs($3::numeric) * $4::numeric) / abs(p.quantity + $3::numeric), 8)
        WHEN sign(p.quantity + $3::numeric) = sign(p.quantity) THEN p.average_cost
        ELSE $4::numeric END,
    realized_pnl = p.realized_pnl - $5::numeric + CASE
        WHEN p.quantity = 0 OR sign(p.quantity) = sign($3::numeric) THEN 0
        ELSE round(least(abs(p.quantity), abs($3::numeric)) * ($4::numeric - p.average_cost) * sign(p.quantity), 8) END,
    version = p.version + 1
  FROM before
  WHERE p.account_id = $1 AND p.symbol = $2
  RETURNING ${positionColumns('p')},
            trim_scale(p.realized_pnl - before.realized_pnl)::text AS "realizedByFill"`;

/** SQL for execution.positions. */
export const positionRepository = {
  /** Applies the fill; returns the position after it and what the fill realized (fees included). */
  async applyFill(db: Queryable, accountId: string, symbol: string, signedQuantity: string, price: string, fees: string): Promise<{ position: PositionRow; realized: string }> {
    await db.query('INSERT INTO execution.positions (account_id, symbol) VALUES ($1, $2) ON CONFLICT (account_id, symbol) DO NOTHING', [accountId, symbol]);
    const { rows } = await db.query<PositionRow & { realizedByFill: string }>(APPLY_FILL, [accountId, symbol, signedQuantity, price, fees]);
    const { realizedByFill, ...position } = rows[0]!;
    return { position, realized: realizedByFill };
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
