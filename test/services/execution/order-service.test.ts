import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError, DuplicateClientOrderIdError, NotFoundError, OrderInputError } from '../../../src/services/execution/execution-errors.ts';
import { recordFill } from '../../../src/services/execution/fill-service.ts';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { IllegalTransitionError, ORDER_TRANSITIONS } from '../../../src/services/execution/order-state-machine.ts';
import { ORDER_STATUSES } from '../../../src/services/execution/order-table.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
let pool: pg.Pool;
let orders: OrderService;

beforeAll(async () => {
  trading = await openTradingDatabase('orders', { accounts: ['acct-a'], symbols: ['AAA', 'BBB'] });
  pool = trading.pool;
  orders = new OrderService(pool);
});
afterAll(() => trading?.close());

async function tableCounts(): Promise<Record<string, number>> {
  const { rows } = await trading.admin.query(
    `SELECT (SELECT count(*) FROM execution.orders)::int AS orders, (SELECT count(*) FROM execution.order_events)::int AS events,
            (SELECT count(*) FROM execution.trades)::int AS trades, (SELECT count(*) FROM execution.positions)::int AS positions`,
  );
  return rows[0];
}

describe('the transition table', () => {
  it('makes filled, cancelled, rejected and expired final, and lets nothing return to pending', () => {
    for (const status of ['filled', 'cancelled', 'rejected', 'expired'] as const) expect(ORDER_TRANSITIONS[status]).toEqual([]);
    for (const status of ORDER_STATUSES) expect(ORDER_TRANSITIONS[status]).not.toContain('pending');
  });
});

describe('placing orders', () => {
  it('creates a pending order with its first event, and a retry with the same client order id returns it', async () => {
    const input = { accountId: 'acct-a', clientOrderId: 'c-1', symbol: 'aaa', side: 'buy' as const, orderType: 'limit' as const, quantity: '10', limitPrice: '101.25' };
    const first = await orders.place(input);
    expect(first).toMatchObject({ created: true, order: { status: 'pending', symbol: 'AAA', quantity: '10', limitPrice: '101.25', filledQuantity: '0', version: 1 } });
    const again = await orders.place({ ...input, quantity: '10.000' });
    expect(again).toMatchObject({ created: false, order: { id: first.order.id } });
    expect(await orders.events('acct-a', first.order.id)).toMatchObject([{ fromStatus: null, toStatus: 'pending', reason: 'placed' }]);
  });

  it('refuses the same client order id with different content, writing nothing', async () => {
    const before = await tableCounts();
    await expect(orders.place({ accountId: 'acct-a', clientOrderId: 'c-1', symbol: 'AAA', side: 'buy', orderType: 'limit', quantity: '11', limitPrice: '101.25' })).rejects.toThrow(DuplicateClientOrderIdError);
    expect(await tableCounts()).toEqual(before);
  });

  it.each([
    ['zero quantity', { quantity: '0' }, 'quantity'],
    ['negative quantity', { quantity: '-5' }, 'quantity'],
    ['too many decimals', { quantity: '1.123456789' }, 'quantity'],
    ['a limit order without a price', { orderType: 'limit', quantity: '1' }, 'limitPrice'],
    ['a market order with a limit price', { quantity: '1', limitPrice: '10' }, 'limitPrice'],
    ['a stop order without a stop price', { orderType: 'stop', quantity: '1' }, 'stopPrice'],
    ['a price with too many decimals', { orderType: 'limit', quantity: '1', limitPrice: '10.000000001' }, 'limitPrice'],
    ['an unknown side', { side: 'hold', quantity: '1' }, 'side'],
  ])('refuses %s naming the field, writing nothing', async (_case, changes, field) => {
    const before = await tableCounts();
    const error = await orders.place({ accountId: 'acct-a', symbol: 'AAA', side: 'buy', quantity: '1', ...(changes as object) } as never).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OrderInputError);
    expect((error as OrderInputError).field).toBe(field);
    expect(await tableCounts()).toEqual(before);
  });

  it('refuses an unknown symbol or account with NotFoundError, writing nothing', async () => {
    const before = await tableCounts();
    await expect(orders.place({ accountId: 'acct-a', symbol: 'NOPE', side: 'buy', quantity: '1' })).rejects.toMatchObject({ name: 'NotFoundError', what: 'symbol' });
    await expect(orders.place({ accountId: 'nobody', symbol: 'AAA', side: 'buy', quantity: '1' })).rejects.toBeInstanceOf(NotFoundError);
    expect(await tableCounts()).toEqual(before);
  });
});

describe('status changes', () => {
  it('submits, and an illegal transition raises a typed error and changes nothing', async () => {
    const { order } = await orders.place({ accountId: 'acct-a', symbol: 'BBB', side: 'sell', quantity: '3' });
    const submitted = await orders.submit('acct-a', order.id, 'broker-1');
    expect(submitted).toMatchObject({ status: 'submitted', brokerOrderId: 'broker-1', version: 2 });
    await recordFill(pool, { accountId: 'acct-a', orderId: order.id, brokerFillId: 'f-all', quantity: '3', price: '50' });
    const before = await tableCounts();
    await expect(orders.cancel('acct-a', order.id)).rejects.toBeInstanceOf(IllegalTransitionError);
    await expect(orders.submit('acct-a', order.id)).rejects.toThrow(/filled; it cannot become submitted \(that status is final\)/);
    expect(await tableCounts()).toEqual(before);
    expect((await orders.get('acct-a', order.id))?.status).toBe('filled');
  });

  it('a user-facing cancel of a stale version is a typed conflict; with the fresh version it cancels', async () => {
    const { order } = await orders.place({ accountId: 'acct-a', symbol: 'BBB', side: 'buy', quantity: '10' });
    await orders.submit('acct-a', order.id);
    await recordFill(pool, { accountId: 'acct-a', orderId: order.id, brokerFillId: 'f-part', quantity: '4', price: '20' });
    await expect(orders.cancel('acct-a', order.id, { expectedVersion: 2 })).rejects.toBeInstanceOf(ConcurrentUpdateError);
    const cancelled = await orders.cancel('acct-a', order.id, { expectedVersion: 3 });
    expect(cancelled).toMatchObject({ status: 'cancelled', filledQuantity: '4', version: 4 });
    expect((await orders.events('acct-a', order.id)).map((event) => event.toStatus)).toEqual(['pending', 'submitted', 'partially_filled', 'cancelled']);
  });

  it('an unknown order is NotFoundError', async () => {
    await expect(orders.cancel('acct-a', 999_999)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('a cancel a broker must confirm', () => {
  it('pending_cancel still takes the fills racing it; the confirmation ends the order; later fills are refused', async () => {
    const { order } = await orders.place({ accountId: 'acct-a', symbol: 'AAA', side: 'buy', quantity: '10' });
    await orders.submit('acct-a', order.id, 'broker-9');
    await recordFill(pool, { accountId: 'acct-a', orderId: order.id, brokerFillId: 'pc-1', quantity: '3', price: '10' });
    expect(await orders.requestCancel('acct-a', order.id)).toMatchObject({ status: 'pending_cancel', filledQuantity: '3' });
    const late = await recordFill(pool, { accountId: 'acct-a', orderId: order.id, brokerFillId: 'pc-2', quantity: '2', price: '10' });
    expect(late.order).toMatchObject({ status: 'pending_cancel', filledQuantity: '5' });
    expect(await orders.confirmCancel('acct-a', order.id)).toMatchObject({ status: 'cancelled', filledQuantity: '5' });
    await expect(recordFill(pool, { accountId: 'acct-a', orderId: order.id, brokerFillId: 'pc-3', quantity: '1', price: '10' })).rejects.toThrow(/cancelled; it takes no fills/);
    expect((await orders.events('acct-a', order.id)).map((event) => event.toStatus)).toEqual(['pending', 'submitted', 'partially_filled', 'pending_cancel', 'pending_cancel', 'cancelled']);
    // A late fill that completes the order fills it, cancel or not.
    const second = (await orders.place({ accountId: 'acct-a', symbol: 'AAA', side: 'buy', quantity: '2' })).order;
    await orders.submit('acct-a', second.id);
    await orders.requestCancel('acct-a', second.id);
    expect((await recordFill(pool, { accountId: 'acct-a', orderId: second.id, brokerFillId: 'pc-4', quantity: '2', price: '10' })).order.status).toBe('filled');
  });
});
