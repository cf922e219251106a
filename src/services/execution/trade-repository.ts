import type { Queryable } from '../../db/queryable.ts';
import type { OrderRow, TradeRow } from './order-table.ts';

/** A trade's columns as TradeRow, qualified and prefixed as orderColumns does. */
export function tradeColumns(table = 'execution.trades', prefix = ''): string {
  const t = table;
  const p = prefix;
  return `${t}.account_id AS "${p}accountId", ${t}.id::float8 AS "${p}id", ${t}.order_id::float8 AS "${p}orderId",
  ${t}.broker_fill_id AS "${p}brokerFillId", ${t}.symbol AS "${p}symbol", ${t}.side AS "${p}side", trim_scale(${t}.quantity)::text AS "${p}quantity",
  trim_scale(${t}.price)::text AS "${p}price", trim_scale(${t}.fees)::text AS "${p}fees", trim_scale(${t}.realized_pnl)::text AS "${p}realizedPnl",
  ${t}.executed_at AS "${p}executedAt"`;
}
const TRADE_COLUMNS = tradeColumns();

export interface NewFill {
  brokerFillId: string;
  quantity: string;
  price: string;
  fees: string;
  executedAt: Date;
}

/** SQL for execution.trades (fills). */
export const tradeRepository = {
  async findByFillId(db: Queryable, accountId: string, brokerFillId: string): Promise<TradeRow | undefined> {
    const { rows } = await db.query<TradeRow>(`SELECT ${TRADE_COLUMNS} FROM execution.trades WHERE account_id = $1 AND broker_fill_id = $2`, [accountId, brokerFillId]);
    return rows[0];
  },

  async forOrder(db: Queryable, accountId: string, orderId: number): Promise<TradeRow[]> {
    const { rows } = await db.query<TradeRow>(`SELECT ${TRADE_COLUMNS} FROM execution.trades WHERE account_id = $1 AND order_id = $2 ORDER BY id`, [accountId, orderId]);
    return rows;
  },
};
