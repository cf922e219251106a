import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RiskRejectedError } from '../../../src/services/execution/execution-errors.ts';
import { recordFill } from '../../../src/services/execution/fill-service.ts';
import type { NewOrderInput } from '../../../src/services/execution/order-input.ts';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
let orders: OrderService;
const ACCOUNTS = ['r-notional', 'r-position', 'r-open', 'r-exposure', 'r-loss', 'r-kill', 'r-race'];

beforeAll(async () => {
  trading = await openTradingDatabase('risk', { accounts: ACCOUNTS, symbols: ['NOBARS', 'PRICED'] });
  orders = new OrderService(trading.pool);
  // PRICED last closed at 50 (yesterday, in a month setup made a partition for).
  await trading.admin.query(
    "INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source) VALUES ('PRICED', '1d', date_trunc('day', now() - interval '1 day', 'UTC'), 49, 51, 48, 50, 1000, 'test')",
  );
});
afterAll(() => trading?.close());

async function limit(accountId: string, limitType: string, value: string, symbol?: string): Promise<number> {
  const { rows } = await trading.admin.query(
    'INSERT INTO risk_management.risk_limits (account_id, scope, symbol, limit_type, limit_value) VALUES ($1, $2, $3, $4, $5) RETURNING id::int',
    [accountId, symbol ? 'symbol' : 'account', symbol ?? null, limitType, value],
  );
  return rows[0].id;
}

function place(accountId: string, order: Partial<NewOrderInput>) {
  return orders.place({ accountId, symbol: 'PRICED', side: 'buy', quantity: '1', ...order });
}

async function rejection(promise: Promise<unknown>): Promise<RiskRejectedError> {
  const error = await promise.catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(RiskRejectedError);
  return error as RiskRejectedError;
}

async function fillAll(accountId: string, orderId: number, quantity: string, price: string, fees = '0') {
  await orders.submit(accountId, orderId);
  await recordFill(trading.pool, { accountId, orderId, brokerFillId: `fill-${accountId}-${orderId}`, quantity, price, fees });
}

describe('each limit rejects exactly at its boundary', () => {
  it('max_order_notional: a notional equal to the limit passes, a cent above is rejected and recorded', async () => {
    const limitId = await limit('r-notional', 'max_order_notional', '1000');
    expect((await place('r-notional', { orderType: 'limit', quantity: '10', limitPrice: '100' })).order.status).toBe('pending');
    const refused = await rejection(place('r-notional', { orderType: 'limit', quantity: '10', limitPrice: '100.01', clientOrderId: 'too-big' }));
    // Retrying the same order is rejected again, for the same reason, and records nothing new.
    const retried = await rejection(place('r-notional', { orderType: 'limit', quantity: '10', limitPrice: '100.01', clientOrderId: 'too-big' }));
    expect(retried).toMatchObject({ orderId: refused.orderId, breaches: [{ type: 'max_order_notional' }] });
    expect(refused.breaches).toMatchObject([{ type: 'max_order_notional' }]);
    const stored = await orders.get('r-notional', refused.orderId);
    expect(stored?.status).toBe('rejected');
    const { rows } = await trading.admin.query('SELECT risk_limit_id::int AS "limitId", event_type AS type, order_id::int AS "orderId" FROM risk_management.risk_events WHERE account_id = $1', ['r-notional']);
    expect(rows).toEqual([{ limitId, type: 'max_order_notional', orderId: refused.orderId }]);
    // A market order is priced at the last close: 20 × 50 = 1000 passes, 21 does not.
    expect((await place('r-notional', { quantity: '20' })).order.status).toBe('pending');
    await rejection(place('r-notional', { quantity: '21' }));
    // No bars and no price: the limit cannot be checked, so the order does not go.
    expect((await rejection(place('r-notional', { symbol: 'NOBARS', quantity: '1' }))).breaches[0]!.type).toBe('no_reference_price');
  });

  it('max_position_quantity counts the position and open orders on the same side, in either direction', async () => {
    await limit('r-position', 'max_position_quantity', '10', 'PRICED');
    const first = await place('r-position', { quantity: '10' });
    await rejection(place('r-position', { quantity: '0.00000001' }));
    await fillAll('r-position', first.order.id, '10', '50');
    // Long 10: selling 20 ends at -10 (allowed), one more would be -11.
    expect((await place('r-position', { side: 'sell', quantity: '20' })).order.status).toBe('pending');
    await rejection(place('r-position', { side: 'sell', quantity: '1' }));
  });

  it('max_open_orders: the limit-th open order passes, the next is rejected until one closes', async () => {
    await limit('r-open', 'max_open_orders', '2');
    const first = await place('r-open', {});
    await place('r-open', {});
    await rejection(place('r-open', {}));
    await orders.cancel('r-open', first.order.id);
    expect((await place('r-open', {})).order.status).toBe('pending');
  });

  it('max_gross_exposure: positions at the last close plus the order', async () => {
    await limit('r-exposure', 'max_gross_exposure', '1000');
    const first = await place('r-exposure', { quantity: '20' });
    await fillAll('r-exposure', first.order.id, '20', '49');
    // 20 held × 50 = 1000 already: any further order would pass the limit.
    expect((await rejection(place('r-exposure', { quantity: '0.01' }))).breaches[0]!.type).toBe('max_gross_exposure');
  });

  it('max_gross_exposure counts open orders too: two orders cannot each use the same room', async () => {
    await trading.admin.query("INSERT INTO shared.accounts (account_id, name) VALUES ('r-exposure-2', 'x')");
    await limit('r-exposure-2', 'max_gross_exposure', '10000');
    expect((await place('r-exposure-2', { orderType: 'limit', quantity: '100', limitPrice: '60' })).order.status).toBe('pending');
    await rejection(place('r-exposure-2', { orderType: 'limit', quantity: '100', limitPrice: '60' }));
    // 6000 open + 4000 = 10000: exactly at the limit passes.
    expect((await place('r-exposure-2', { orderType: 'limit', quantity: '80', limitPrice: '50' })).order.status).toBe('pending');
  });

  it('max_daily_loss stops new orders once today\'s realized loss reaches it', async () => {
    await limit('r-loss', 'max_daily_loss', '100');
    const buy = await place('r-loss', { quantity: '10' });
    await fillAll('r-loss', buy.order.id, '10', '100');
    const sell = await place('r-loss', { side: 'sell', quantity: '5' });
    await fillAll('r-loss', sell.order.id, '5', '80.002'); // realizes -99.99
    expect((await place('r-loss', { side: 'sell', quantity: '5' })).order.status).toBe('pending');
    const more = await place('r-loss', { side: 'sell', quantity: '1' });
    await fillAll('r-loss', more.order.id, '1', '99.99'); // realizes -0.01 more: -100 in all
    expect((await rejection(place('r-loss', { side: 'sell', quantity: '1' }))).breaches[0]!.type).toBe('max_daily_loss');
  });
});

describe('the kill switch and concurrency', () => {
  it('the kill switch stops every new order at once, and lifting it lets them through', async () => {
    await trading.admin.query(`INSERT INTO shared.system_config (key, value) VALUES ('trading.kill_switch', '{"enabled": true, "reason": "runaway strategy"}')`);
    try {
      const refused = await rejection(place('r-kill', {}));
      expect(refused.message).toMatch(/kill switch is on: runaway strategy/);
      const { rows } = await trading.admin.query("SELECT severity FROM risk_management.risk_events WHERE account_id = 'r-kill'");
      expect(rows).toEqual([{ severity: 'critical' }]);
    } finally {
      await trading.admin.query(`UPDATE shared.system_config SET value = '{"enabled": false}' WHERE key = 'trading.kill_switch'`);
    }
    expect((await place('r-kill', {})).order.status).toBe('pending');
  });

  it('ten orders placed at once against max_open_orders 3: exactly three pass', async () => {
    await limit('r-race', 'max_open_orders', '3');
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => place('r-race', {})));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((result) => result.status === 'rejected' && result.reason instanceof RiskRejectedError)).toHaveLength(7);
  });
});
