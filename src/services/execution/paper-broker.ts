import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { type FillOutcome, recordFill } from './fill-service.ts';
import { orderRepository } from './order-repository.ts';
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
    const open = await withAccountTransaction(this.pool, accountId, (client) => orderRepository.list(client, accountId, { statuses: ['submitted', 'partially_filled'], limit: 10_000 }), { readOnly: true });
    const fills: FillOutcome[] = [];
    for (const order of open.filter((candidate) => candidate.symbol === bar.symbol).reverse()) {
      const fill = matchOrder(order, bar, this.options.participation ?? DEFAULT_PARTICIPATION);
      if (!fill) continue;
      fills.push(
        await recordFill(this.pool, {
          accountId,
          orderId: order.id,
          brokerFillId: `paper-${order.id}-${bar.ts.toISOString()}`,
          quantity: fill.quantity,
          price: fill.price,
          executedAt: bar.ts,
        }),
      );
    }
    return fills;
  }
}
