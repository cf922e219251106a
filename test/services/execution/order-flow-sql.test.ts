import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FillRejectedError, RiskRejectedError } from '../../../src/services/execution/execution-errors.ts';
import { executeOrder } from '../../../src/services/execution/order-execution.ts';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { ORDER_TRANSITIONS } from '../../../src/services/execution/order-state-machine.ts';
import { ORDER_STATUSES } from '../../../src/services/execution/order-table.ts';
import { applyFillToPosition } from '../../../src/services/execution/position-math.ts';
import { fromUnits, toUnits } from '../../../src/shared/decimal-text.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
beforeAll(async () => {
  trading = await openTradingDatabase('orderflow', { accounts: ['flow-a', 'flow-b'], symbols: ['FA', 'FB'] });
});
afterAll(() => trading?.close());

describe('the SQL order flow and the TypeScript agree', () => {
  it('the transition table in execution.order_status_transitions is ORDER_TRANSITIONS', async () => {
    const { rows } = await trading.admin.query<{ from: string; to: string }>('SELECT from_status AS from, to_status AS to FROM execution.order_status_transitions');
    const inSql = Object.fromEntries(ORDER_STATUSES.map((status) => [status, rows.filter((row) => row.from === status).map((row) => row.to).sort()]));
    const inTypeScript = Object.fromEntries(ORDER_STATUSES.map((status) => [status, [...ORDER_TRANSITIONS[status]].sort()]));
    expect(inSql).toEqual(inTypeScript);
  });

  it('execution.position_after_fill equals applyFillToPosition (the batch path) on 2,000 random fills', async () => {
    // A seeded walk that opens, adds, reduces, closes and flips, with odd prices and fees.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cases = Array.from({ length: 2000 }, () => {
      const quantity = fromUnits(BigInt(Math.round((random() - 0.5) * 2e10)));
      const averageCost = quantity === '0' ? '0' : fromUnits(BigInt(Math.round(random() * 5e10) + 1));
      const signed = fromUnits(BigInt(Math.round((random() - 0.5) * 3e10)) || 1n);
      return { quantity, averageCost, signed, price: fromUnits(BigInt(Math.round(random() * 5e10) + 1)), fees: fromUnits(BigInt(Math.round(random() * 1e8))) };
    });
    const { rows } = await trading.admin.query<{ quantity: string; averageCost: string; realized: string }>(
      `SELECT trim_scale(f.new_quantity)::text AS quantity, trim_scale(f.new_average_cost)::text AS "averageCost", trim_scale(f.realized)::text AS realized
         FROM unnest($1::numeric[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[]) WITH ORDINALITY AS c (q, cost, s, p, fees, n)
        CROSS JOIN LATERAL execution.position_after_fill(c.q, c.cost, c.s, c.p, c.fees) AS f ORDER BY c.n`,
      [cases.map((c) => c.quantity), cases.map((c) => c.averageCost), cases.map((c) => c.signed), cases.map((c) => c.price), cases.map((c) => c.fees)],
    );
    const inTypeScript = cases.map((c) => {
      const { position, realized } = applyFillToPosition({ quantity: toUnits(c.quantity), averageCost: toUnits(c.averageCost), realizedPnl: 0n }, toUnits(c.signed), toUnits(c.price), toUnits(c.fees));
      return { quantity: fromUnits(position.quantity), averageCost: fromUnits(position.averageCost), realized: fromUnits(realized) };
    });
    expect(rows).toEqual(inTypeScript);
    // The walk did cover every branch.
    expect(cases.some((c) => c.quantity.startsWith('-') !== c.signed.startsWith('-') && toUnits(c.signed) ** 2n > toUnits(c.quantity) ** 2n)).toBe(true);
  });
});

describe('executeOrder writes the order once, in its final state', () => {
  it('a partial fill leaves the order partially filled, with its three events and the position moved', async () => {
    const outcome = await executeOrder(trading.pool, { accountId: 'flow-a', clientOrderId: 'part-1', symbol: 'FA', side: 'sell', orderType: 'limit', quantity: '10', limitPrice: '5' }, { brokerFillId: 'part-1-f', quantity: '4', price: '5.5', fees: '0.25' });
    expect(outcome).toMatchObject({ duplicate: false, order: { status: 'partially_filled', filledQuantity: '4', averageFillPrice: '5.5', version: 1 }, position: { quantity: '-4', averageCost: '5.5', realizedPnl: '-0.25' }, trade: { quantity: '4', realizedPnl: '-0.25' } });
    const events = await new OrderService(trading.pool).events('flow-a', outcome.order.id);
    expect(events.map((event) => [event.fromStatus, event.toStatus])).toEqual([[null, 'pending'], ['pending', 'submitted'], ['submitted', 'partially_filled']]);
    expect(events[2]!.payload).toMatchObject({ tradeId: outcome.trade.id, brokerFillId: 'part-1-f', quantity: '4' });
    // The rest fills through the general path, on the same order.
    const { recordFill } = await import('../../../src/services/execution/fill-service.ts');
    const rest = await recordFill(trading.pool, { accountId: 'flow-a', orderId: outcome.order.id, brokerFillId: 'part-1-g', quantity: '6', price: '6' });
    expect(rest).toMatchObject({ order: { status: 'filled', filledQuantity: '10', averageFillPrice: '5.8' }, position: { quantity: '-10' } });
  });

  it('a fill larger than the order, or a fill id used before on another order, writes nothing', async () => {
    const count = async () => (await trading.admin.query("SELECT (SELECT count(*) FROM execution.orders WHERE account_id = 'flow-b')::int AS orders")).rows[0].orders;
    await executeOrder(trading.pool, { accountId: 'flow-b', clientOrderId: 'first', symbol: 'FB', side: 'buy', quantity: '1' }, { brokerFillId: 'used', quantity: '1', price: '1' });
    const before = await count();
    await expect(executeOrder(trading.pool, { accountId: 'flow-b', clientOrderId: 'big', symbol: 'FB', side: 'buy', quantity: '1' }, { brokerFillId: 'big-f', quantity: '2', price: '1' })).rejects.toThrow(FillRejectedError);
    await expect(executeOrder(trading.pool, { accountId: 'flow-b', clientOrderId: 'reuse', symbol: 'FB', side: 'buy', quantity: '1' }, { brokerFillId: 'used', quantity: '1', price: '1' })).rejects.toThrow(/already recorded for another order/);
    expect(await count()).toBe(before);
  });

  it('counts the order it checks before storing it: a position limit rejects exactly above its boundary', async () => {
    await trading.admin.query("INSERT INTO risk_management.position_limits (account_id, symbol, max_long_quantity, max_short_quantity) VALUES ('flow-b', 'FA', 10, 0)");
    const buy = (id: string, quantity: string) => executeOrder(trading.pool, { accountId: 'flow-b', clientOrderId: id, symbol: 'FA', side: 'buy', quantity }, { brokerFillId: `${id}-f`, quantity, price: '2' });
    expect((await buy('to-ten', '10')).position).toMatchObject({ quantity: '10' });
    const refused = await buy('eleven', '0.00000001').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RiskRejectedError);
    expect((refused as RiskRejectedError).breaches).toMatchObject([{ type: 'position_limit' }]);
    expect((refused as RiskRejectedError).message).toMatch(/position limit FA long 10: the position could reach 10\.00000001/);
    // No shorting allowed (0 short): a sell that would go below zero is refused, one to zero is not.
    const orders = new OrderService(trading.pool);
    await expect(orders.place({ accountId: 'flow-b', clientOrderId: 'short', symbol: 'FA', side: 'sell', quantity: '10.5' })).rejects.toThrow(RiskRejectedError);
    expect((await orders.place({ accountId: 'flow-b', clientOrderId: 'flat', symbol: 'FA', side: 'sell', quantity: '10' })).order.status).toBe('pending');
    const { rows } = await trading.admin.query("SELECT o.status, e.event_type FROM execution.orders o JOIN risk_management.risk_events e ON e.order_id = o.id WHERE o.client_order_id IN ('eleven', 'short') ORDER BY o.id");
    expect(rows).toEqual([{ status: 'rejected', event_type: 'position_limit' }, { status: 'rejected', event_type: 'position_limit' }]);
  });
});
