import type { Queryable } from '../../db/queryable.ts';
import type { OrderRow, TradeRow } from './order-table.ts';

const TRADE_COLUMNS = `account_id AS "accountId", id::float8 AS id, order_id::float8 AS "orderId",
  broker_fill_id AS "brokerFillId", symbol, side, trim_scale(quantity)::text AS quantity,
  trim_scale(price)::text AS price, trim_scale(fees)::text AS fees, trim_scale(realized_pnl)::text AS "realizedPnl",
  executed_at AS "executedAt"`;

export interface NewFill {
  brokerFillId: string;
  quantity: string;
  price: string;
  fees: string;
  executedAt: Date;
}

/** SQL for execution.trades (fills). */
export const tradeRepository = {
  /** Records the fill (with what it realized) unless its broker fill id is already recorded; undefined then. */
  async insert(db: Queryable, order: Pick<OrderRow, 'accountId' | 'id' | 'symbol' | 'side'>, fill: NewFill, realizedPnl: string): Promise<TradeRow | undefined> {
    const { rows } = await db.query<TradeRow>(
      `INSERT INTO execution.trades (account_id, order_id, broker_fill_id, symbol, side, quantity, price, fees, realized_pnl, executed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (account_id, broker_fill_id) DO NOTHING
       RETURNING ${TRADE_COLUMNS}`,
      [order.accountId, order.id, fill.brokerFillId, order.symbol, order.side, fill.quantity, fill.price, fill.fees, realizedPnl, fill.executedAt],
    );
    return rows[0];
  },

  async findByFillId(db: Queryable, accountId: string, brokerFillId: string): Promise<TradeRow | undefined> {
    const { rows } = await db.query<TradeRow>(`SELECT ${TRADE_COLUMNS} FROM execution.trades WHERE account_id = $1 AND broker_fill_id = $2`, [accountId, brokerFillId]);
    return rows[0];
  },

  async forOrder(db: Queryable, accountId: string, orderId: number): Promise<TradeRow[]> {
    const { rows } = await db.query<TradeRow>(`SELECT ${TRADE_COLUMNS} FROM execution.trades WHERE account_id = $1 AND order_id = $2 ORDER BY id`, [accountId, orderId]);
    return rows;
  },
};
