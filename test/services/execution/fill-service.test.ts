import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FillRejectedError, NotFoundError, OrderInputError } from '../../../src/services/execution/execution-errors.ts';
import { type FillInput, recordFill } from '../../../src/services/execution/fill-service.ts';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { positionRepository } from '../../../src/services/execution/position-repository.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
let pool: pg.Pool;
let orders: OrderService;

beforeAll(async () => {
  trading = await openTradingDatabase('fills', { accounts: ['acct-a'], symbols: ['POS', 'DUP', 'BAD', 'CON', 'RACE'] });
  pool = trading.pool;
  orders = new OrderService(pool);
});
afterAll(() => trading?.close());

/** A submitted market order. */
async function openOrder(symbol: string, side: 'buy' | 'sell', quantity: string): Promise<number> {
  const { order } = await orders.place({ accountId: 'acct-a', symbol, side, quantity });
  await orders.submit('acct-a', order.id);
  return order.id;
}

let fillNumber = 0;
function fill(orderId: number, quantity: string, price: string, extra: Partial<FillInput> = {}): Promise<Awaited<ReturnType<typeof recordFill>>> {
  fillNumber += 1;
  return recordFill(pool, { accountId: 'acct-a', orderId, brokerFillId: `fill-${fillNumber}`, quantity, price, ...extra });
}

async function position(symbol: string) {
  const client = await pool.connect();
  try {
    await client.query("SELECT set_config('tradedb.account_id', 'acct-a', false)");
    return await positionRepository.find(client, 'acct-a', symbol);
  } finally {
    client.release();
  }
}

async function counts(): Promise<{ trades: number; events: number }> {
  const { rows } = await trading.admin.query('SELECT (SELECT count(*) FROM execution.trades)::int AS trades, (SELECT count(*) FROM execution.order_events)::int AS events');
  return rows[0];
}

describe('position arithmetic', () => {
  it('averages up, realizes on reductions, flips through zero, and charges fees', async () => {
    const buy = await openOrder('POS', 'buy', '20');
    await fill(buy, '10', '100');
    const second = await fill(buy, '10', '110');
    expect(second.order).toMatchObject({ status: 'filled', filledQuantity: '20', averageFillPrice: '105' });
    expect(second.position).toMatchObject({ quantity: '20', averageCost: '105', realizedPnl: '0' });

    const sell = await openOrder('POS', 'sell', '30');
    expect((await fill(sell, '5', '120')).position).toMatchObject({ quantity: '15', averageCost: '105', realizedPnl: '75' });
    // Sells 25 with 15 held: 15 close at a loss of 5 each, 10 open a short at 100.
    expect((await fill(sell, '25', '100')).position).toMatchObject({ quantity: '-10', averageCost: '100', realizedPnl: '0' });

    const cover = await openOrder('POS', 'buy', '10');
    // Covering the short at 90 gains 10 a share; the fee of 1.5 comes off.
    expect((await fill(cover, '10', '90', { fees: '1.5' })).position).toMatchObject({ quantity: '0', averageCost: '0', realizedPnl: '98.5' });
  });
});

describe('idempotency and bad fills', () => {
  it('a fill delivered twice, one after the other or at once, counts once', async () => {
    const order = await openOrder('DUP', 'buy', '10');
    const input = { accountId: 'acct-a', orderId: order, brokerFillId: 'dup-1', quantity: '4', price: '10' };
    const first = await recordFill(pool, input);
    const again = await recordFill(pool, input);
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, trade: { id: first.trade.id } });
    const concurrent = await Promise.all([1, 2, 3].map(() => recordFill(pool, { ...input, brokerFillId: 'dup-2' })));
    expect(concurrent.filter((outcome) => !outcome.duplicate)).toHaveLength(1);
    expect(await position('DUP')).toMatchObject({ quantity: '8' });
    expect((await orders.get('acct-a', order))?.filledQuantity).toBe('8');
  });

  it('refuses, with nothing written: unknown order, finished order, pending order, too large, reused fill id, bad numbers', async () => {
    const order = await openOrder('BAD', 'sell', '5');
    await fill(order, '2', '10', { brokerFillId: 'bad-1' });
    const pending = (await orders.place({ accountId: 'acct-a', symbol: 'BAD', side: 'buy', quantity: '1' })).order.id;
    const before = await counts();
    const positionBefore = await position('BAD');
    await expect(fill(999_999, '1', '10')).rejects.toBeInstanceOf(NotFoundError);
    await expect(fill(order, '3.5', '10')).rejects.toThrow(/more than the 3 that remain/);
    await expect(fill(pending, '1', '10')).rejects.toThrow(/pending; it takes no fills before it is submitted/);
    await expect(fill(order, '1', '11', { brokerFillId: 'bad-1' })).rejects.toBeInstanceOf(FillRejectedError);
    await expect(fill(order, '0', '10')).rejects.toMatchObject({ name: 'OrderInputError', field: 'quantity' });
    await expect(fill(order, '1', '-1')).rejects.toMatchObject({ field: 'price' });
    await expect(fill(order, '1', '10', { fees: '-1' })).rejects.toBeInstanceOf(OrderInputError);
    await orders.cancel('acct-a', order);
    await expect(fill(order, '1', '10')).rejects.toThrow(/cancelled; it takes no fills/);
    expect(await counts()).toEqual({ ...before, events: before.events + 1 });
    expect(await position('BAD')).toEqual(positionBefore);
  });
});

describe('under concurrency', () => {
  it('many concurrent fill streams on one position end with the position equal to the sum of its trades', async () => {
    const streams = await Promise.all(['buy', 'sell', 'buy', 'sell', 'buy', 'buy'].map((side, index) => openOrder('CON', side as 'buy' | 'sell', String(40 + index))));
    const quantities = (orderIndex: number) => Array.from({ length: 20 }, (_, fillIndex) => (1 + ((orderIndex + fillIndex) % 3)).toString());
    await Promise.all(
      streams.map(async (orderId, orderIndex) => {
        for (const [fillIndex, quantity] of quantities(orderIndex).entries()) await fill(orderId, quantity, String(100 + fillIndex + orderIndex / 4));
      }),
    );
    const { rows } = await trading.admin.query(
      `SELECT (SELECT sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) FROM execution.trades WHERE symbol = 'CON')::text AS traded,
              (SELECT quantity::text FROM execution.positions WHERE symbol = 'CON') AS held,
              (SELECT version FROM execution.positions WHERE symbol = 'CON') AS version,
              (SELECT count(*) FROM execution.trades WHERE symbol = 'CON')::int AS trades,
              (SELECT bool_and(o.filled_quantity = (SELECT sum(quantity) FROM execution.trades t WHERE t.order_id = o.id))
                 FROM execution.orders o WHERE symbol = 'CON') AS orders_agree`,
    );
    expect(rows[0].trades).toBe(120);
    expect(rows[0].held).toBe(rows[0].traded);
    expect(rows[0].version).toBe(121);
    expect(rows[0].orders_agree).toBe(true);
  });

  it('a cancel racing a fill ends in one consistent state, whichever wins', async () => {
    for (let round = 0; round < 12; round += 1) {
      const orderId = await openOrder('RACE', 'buy', '10');
      const quantity = round % 2 === 0 ? '10' : '4';
      const [cancel, filled] = await Promise.allSettled([orders.cancel('acct-a', orderId), fill(orderId, quantity, '10')]);
      const order = (await orders.get('acct-a', orderId))!;
      const { rows } = await trading.admin.query('SELECT coalesce(sum(quantity), 0)::text AS n FROM execution.trades WHERE order_id = $1', [orderId]);
      expect(order.filledQuantity).toBe(rows[0].n === '0' ? '0' : rows[0].n.replace(/\.?0+$/, ''));
      if (filled.status === 'fulfilled') expect(order.filledQuantity).toBe(quantity);
      else expect(order.filledQuantity).toBe('0');
      if (cancel.status === 'fulfilled') expect(order.status).toBe('cancelled');
      else expect(order.status).toBe('filled');
      expect(cancel.status === 'fulfilled' || filled.status === 'fulfilled').toBe(true);
      const events = (await orders.events('acct-a', orderId)).map((event) => event.toStatus);
      expect(events.slice(0, 2)).toEqual(['pending', 'submitted']);
      expect(events.at(-1)).toBe(order.status);
    }
  });
});

describe('executeOrder: place, check, submit and fill in one transaction', () => {
  it('fills at once, and a retry with the same ids changes nothing', async () => {
    const { executeOrder } = await import('../../../src/services/execution/order-execution.ts');
    const order = { accountId: 'acct-a', clientOrderId: 'exec-1', symbol: 'POS', side: 'buy' as const, quantity: '3' };
    const first = await executeOrder(pool, order, { brokerFillId: 'exec-fill-1', quantity: '3', price: '10' });
    expect(first).toMatchObject({ duplicate: false, order: { status: 'filled', filledQuantity: '3' } });
    const again = await executeOrder(pool, order, { brokerFillId: 'exec-fill-1', quantity: '3', price: '10' });
    expect(again).toMatchObject({ duplicate: true, trade: { id: first.trade.id } });
    expect((await orders.events('acct-a', first.order.id)).map((event) => event.toStatus)).toEqual(['pending', 'submitted', 'filled']);
  });
});
