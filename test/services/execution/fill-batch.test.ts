import { afterAll, beforeAll, expect, it } from 'vitest';
import { FillRejectedError } from '../../../src/services/execution/execution-errors.ts';
import { recordFills } from '../../../src/services/execution/fill-batch.ts';
import { recordFill } from '../../../src/services/execution/fill-service.ts';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
beforeAll(async () => {
  trading = await openTradingDatabase('fillbatch', { accounts: ['one-by-one', 'in-a-batch'], symbols: ['BA', 'BB'] });
});
afterAll(() => trading?.close());

/** The same orders in an account: buys and sells on two symbols. */
async function openOrders(accountId: string): Promise<number[]> {
  const orders = new OrderService(trading.pool);
  const ids: number[] = [];
  for (const [symbol, side, quantity] of [['BA', 'buy', '100'], ['BA', 'sell', '150.5'], ['BB', 'sell', '30'], ['BB', 'buy', '50']] as const) {
    const { order } = await orders.place({ accountId, symbol, side, quantity });
    await orders.submit(accountId, order.id);
    ids.push(order.id);
  }
  return ids;
}

/** A fill plan: (order index, quantity, price, fees). */
const PLAN: Array<[number, string, string, string]> = [
  [0, '40', '10.5', '0.1'], [2, '10', '20', '0'], [0, '60', '11', '0.1'], [1, '70', '12.25', '0.2'], [3, '25', '19.5', '0'],
  [1, '80', '9.75', '0.2'], [2, '20', '21.125', '0.05'], [3, '25', '18', '0'], [1, '0.5', '10', '0'],
];

async function snapshot(accountId: string) {
  const { rows } = await trading.admin.query(
    `SELECT (SELECT json_agg(json_build_object('s', symbol, 'q', trim_scale(quantity), 'c', trim_scale(average_cost), 'r', trim_scale(realized_pnl)) ORDER BY symbol) FROM execution.positions WHERE account_id = $1) AS positions,
            (SELECT json_agg(json_build_object('f', trim_scale(filled_quantity), 's', status) ORDER BY id) FROM execution.orders WHERE account_id = $1) AS orders,
            (SELECT json_agg(trim_scale(realized_pnl) ORDER BY id) FROM execution.trades WHERE account_id = $1) AS realized,
            (SELECT count(*)::int FROM execution.order_events WHERE account_id = $1) AS events`,
    [accountId],
  );
  return rows[0];
}

it('a batch ends exactly where the same fills one by one end, and counts a fill id once', async () => {
  const single = await openOrders('one-by-one');
  for (const [index, [order, quantity, price, fees]] of PLAN.entries()) {
    await recordFill(trading.pool, { accountId: 'one-by-one', orderId: single[order]!, brokerFillId: `f${index}`, quantity, price, fees });
  }
  const batch = await openOrders('in-a-batch');
  const fills = PLAN.map(([order, quantity, price, fees], index) => ({ orderId: batch[order]!, brokerFillId: `f${index}`, quantity, price, fees }));
  const half = Math.floor(fills.length / 2);
  expect(await recordFills(trading.pool, 'in-a-batch', fills.slice(0, half))).toEqual({ recorded: half, duplicates: 0 });
  // The second batch repeats one fill of the first and one of its own.
  expect(await recordFills(trading.pool, 'in-a-batch', [fills[0]!, ...fills.slice(half), fills.at(-1)!])).toEqual({ recorded: fills.length - half, duplicates: 2 });

  const one = await snapshot('one-by-one');
  const many = await snapshot('in-a-batch');
  expect(many.positions).toEqual(one.positions);
  expect(many.realized).toEqual(one.realized);
  expect(many.orders.map((order: { f: string; s: string }) => [order.f, order.s])).toEqual(one.orders.map((order: { f: string; s: string }) => [order.f, order.s]));
  // One event per order and batch lists its fills: every fill appears in exactly one, and each
  // order's events chain from submitted to the status it ended in.
  const { rows: events } = await trading.admin.query(
    `SELECT order_id::int AS "orderId", from_status AS "from", to_status AS "to", payload FROM execution.order_events
      WHERE account_id = 'in-a-batch' AND reason = 'fills' ORDER BY id`,
  );
  expect(events.flatMap((event) => event.payload.fills.map((fill: { brokerFillId: string }) => fill.brokerFillId)).sort()).toEqual(PLAN.map((_, index) => `f${index}`).sort());
  for (const [index, orderId] of batch.entries()) {
    const chain = events.filter((event) => event.orderId === orderId);
    expect(chain[0]!.from).toBe('submitted');
    for (let step = 1; step < chain.length; step += 1) expect(chain[step]!.from).toBe(chain[step - 1]!.to);
    expect(chain.at(-1)!.to).toBe(many.orders[index].s);
  }
});

it('one bad fill rejects the whole batch, naming it, and writes nothing', async () => {
  const orders = await openOrders('in-a-batch');
  const before = await snapshot('in-a-batch');
  const fills = [
    { orderId: orders[0]!, brokerFillId: 'ok-1', quantity: '1', price: '10' },
    { orderId: orders[0]!, brokerFillId: 'too-much', quantity: '1000', price: '10' },
  ];
  await expect(recordFills(trading.pool, 'in-a-batch', fills)).rejects.toThrow(/fills\[1\] \(too-much\): 1000 is more than the 99 that remain/);
  await expect(recordFills(trading.pool, 'in-a-batch', [{ ...fills[0]!, quantity: '-1' }])).rejects.toMatchObject({ field: 'fills[0].quantity' });
  await expect(recordFills(trading.pool, 'in-a-batch', [fills[0]!, { ...fills[0]!, price: '11' }])).rejects.toBeInstanceOf(FillRejectedError);
  expect(await snapshot('in-a-batch')).toEqual(before);
});
