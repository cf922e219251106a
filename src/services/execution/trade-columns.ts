/** How trades (fills) are read and written: their columns as TradeRow, and a validated new fill. */

/** A trade's columns as TradeRow, qualified and prefixed as orderColumns does. */
export function tradeColumns(table = 'execution.trades', prefix = ''): string {
  const t = table;
  const p = prefix;
  return `${t}.account_id AS "${p}accountId", ${t}.id::float8 AS "${p}id", ${t}.order_id::float8 AS "${p}orderId",
  ${t}.broker_fill_id AS "${p}brokerFillId", ${t}.symbol AS "${p}symbol", ${t}.side AS "${p}side", trim_scale(${t}.quantity)::text AS "${p}quantity",
  trim_scale(${t}.price)::text AS "${p}price", trim_scale(${t}.fees)::text AS "${p}fees", trim_scale(${t}.realized_pnl)::text AS "${p}realizedPnl",
  ${t}.executed_at AS "${p}executedAt"`;
}

export interface NewFill {
  brokerFillId: string;
  quantity: string;
  price: string;
  fees: string;
  executedAt: Date;
}
