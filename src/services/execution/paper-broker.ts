import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { type FillOutcome, recordFill } from './fill-service.ts';
import type { Queryable } from '../../db/queryable.ts';
import { orderColumns } from './order-repository.ts';
import type { OrderRow } from './order-table.ts';
import { DEFAULT_PARTICIPATION, type MatchingBar, matchOrder } from './paper-matching.ts';

/** A bar fed to the paper broker: its symbol and start time, with the prices it matches on. */
export interface PaperBar extends MatchingBar {
  symbol: string;
  ts: Date;
}

/**
 * A broker without a market: it fills an account's submitted orders from the bars it is given,
 * in order, so the whole system runs end to end with no real broker. Each bar is offered to the
 * orders open before it (the caller feeds bars that follow the orders: "the next bar"). Fill ids
 * are derived from the order and the bar, so feeding a bar twice fills nothing twice.
 */
export class PaperBroker {
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { participation?: number } = {},
  ) {}

  async processBar(accountId: string, bar: PaperBar): Promise<FillOutcome[]> {
    const open = await withAccountTransaction(this.pool, accountId, (client) => ordersOpenBefore(client, accountId, bar), { readOnly: true });
    const fills: FillOutcome[] = [];
    for (const order of open) {
      if (order.fillRecorded) continue; // this bar was offered to it before: nothing new
      const fill = matchOrder(order, bar, this.options.participation ?? DEFAULT_PARTICIPATION);
      if (!fill) continue;
      fills.push(
        await recordFill(this.pool, {
          accountId,
          orderId: order.id,
          brokerFillId: paperFillId(order.id, bar),
          quantity: fill.quantity,
          price: fill.price,
          executedAt: bar.ts,
        }),
      );
    }
    return fills;
  }
}

function paperFillId(orderId: number, bar: PaperBar): string {
  return `paper-${orderId}-${bar.ts.toISOString()}`;
}

/**
 * The account's open orders of the bar's symbol that existed before the bar started, oldest
 * first: for an order made from a signal, the signal's time counts (a replay of the past places
 * orders now for signals then); otherwise the time it was submitted. Each says whether this
 * bar's fill of it is already recorded.
 */
async function ordersOpenBefore(db: Queryable, accountId: string, bar: PaperBar): Promise<Array<OrderRow & { fillRecorded: boolean }>> {
  const { rows } = await db.query<OrderRow & { fillRecorded: boolean }>(
    `SELECT ${orderColumns('o')},
            EXISTS (SELECT FROM execution.trades t WHERE t.account_id = o.account_id AND t.broker_fill_id = 'paper-' || o.id || '-' || $4) AS "fillRecorded"
       FROM execution.orders o
       LEFT JOIN strategy_engine.strategy_signals s ON s.id = o.signal_id
      WHERE o.account_id = $1 AND o.symbol = $2 AND o.status IN ('submitted', 'partially_filled')
        AND coalesce(s.generated_at, o.submitted_at) < $3
      ORDER BY o.id`,
    [accountId, bar.symbol, bar.ts, bar.ts.toISOString()],
  );
  return rows;
}
