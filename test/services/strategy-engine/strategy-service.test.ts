import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../../src/db/errors.ts';
import { RiskRejectedError } from '../../../src/services/execution/execution-errors.ts';
import { recordFill } from '../../../src/services/execution/fill-service.ts';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { placeOrderFromSignal } from '../../../src/services/execution/signal-orders.ts';
import { StrategyService } from '../../../src/services/strategy-engine/strategy-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
let strategies: StrategyService;

beforeAll(async () => {
  trading = await openTradingDatabase('strategies', { accounts: ['sig-a'], symbols: ['SIG'] });
  strategies = new StrategyService(trading.pools.services.strategy_engine);
});
afterAll(() => trading?.close());

describe('strategies', () => {
  it('validates parameters against the kind\'s schema, naming the field', async () => {
    await expect(strategies.create({ name: 'bad', kind: 'sma_crossover', parameters: { fast: 50, slow: 20, quantity: '10' } })).rejects.toThrow(/fast: fast must be shorter than slow/);
    await expect(strategies.create({ name: 'bad', kind: 'sma_crossover', parameters: { fast: 5, slow: 20, quantity: '10', extra: 1 } })).rejects.toThrow(/Unrecognized key/);
    await expect(strategies.create({ name: 'bad', kind: 'martingale' })).rejects.toThrow(/unknown strategy kind "martingale"/);
    const created = await strategies.create({ name: 'sma 5/20', kind: 'sma_crossover', parameters: { fast: 5, slow: 20, quantity: '10' } });
    expect(created).toMatchObject({ kind: 'sma_crossover', status: 'draft', version: 1, parameters: { fast: 5, slow: 20, interval: '1d', quantity: '10' } });
    await expect(strategies.create({ name: 'sma 5/20', kind: 'manual' })).rejects.toThrow(/exists already/);
  });

  it('updates only at the version read, and re-validates parameters', async () => {
    const strategy = await strategies.create({ name: 'versioned', kind: 'sma_crossover', parameters: { fast: 2, slow: 3, quantity: '1' } });
    const updated = await strategies.update(strategy.id, 1, { parameters: { fast: 3, slow: 9, quantity: '2' }, status: 'active' });
    expect(updated).toMatchObject({ version: 2, status: 'active', parameters: { fast: 3 } });
    await expect(strategies.update(strategy.id, 1, { status: 'paused' })).rejects.toThrow(/changed by someone else/);
    await expect(strategies.update(strategy.id, 2, { parameters: { fast: 9, slow: 3, quantity: '2' } })).rejects.toBeInstanceOf(UserFacingError);
  });
});

describe('signals', () => {
  it('one per strategy, symbol and time; only active strategies; a signal becomes one order through the risk check', async () => {
    const strategy = await strategies.create({ name: 'manual one', kind: 'manual' });
    const at = new Date('2025-02-03T15:00:00Z');
    await expect(strategies.recordSignal(strategy.id, { symbol: 'SIG', signalType: 'buy', generatedAt: at, quantity: '4' })).rejects.toThrow(/draft; only an active strategy/);
    await strategies.update(strategy.id, 1, { status: 'active' });
    const first = await strategies.recordSignal(strategy.id, { symbol: 'sig', signalType: 'buy', generatedAt: at, quantity: '4', strength: '0.75' });
    const again = await strategies.recordSignal(strategy.id, { symbol: 'SIG', signalType: 'buy', generatedAt: at, quantity: '4' });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, signal: { id: first.signal.id, strength: '0.75' } });
    await expect(strategies.recordSignal(strategy.id, { symbol: 'SIG', signalType: 'buy', generatedAt: at, strength: '1.5' })).rejects.toThrow(/strength/);

    const execution = trading.pools.services.execution;
    const placed = await placeOrderFromSignal(execution, first.signal.id, { accountId: 'sig-a' });
    expect(placed).toMatchObject({ created: true, order: { side: 'buy', quantity: '4', strategyId: strategy.id, signalId: first.signal.id, clientOrderId: `signal-${first.signal.id}` } });
    expect((await placeOrderFromSignal(execution, first.signal.id, { accountId: 'sig-a' })).created).toBe(false);

    // close flattens the position the account holds.
    const orders = new OrderService(execution);
    await orders.submit('sig-a', placed.order.id);
    await recordFill(execution, { accountId: 'sig-a', orderId: placed.order.id, brokerFillId: 'sig-fill', quantity: '4', price: '10' });
    const close = await strategies.recordSignal(strategy.id, { symbol: 'SIG', signalType: 'close', generatedAt: new Date('2025-02-04T15:00:00Z') });
    expect((await placeOrderFromSignal(execution, close.signal.id, { accountId: 'sig-a' })).order).toMatchObject({ side: 'sell', quantity: '4' });

    // and the risk check applies as to any order.
    await trading.admin.query("INSERT INTO risk_management.risk_limits (account_id, scope, limit_type, limit_value) VALUES ('sig-a', 'account', 'max_open_orders', 1)");
    const third = await strategies.recordSignal(strategy.id, { symbol: 'SIG', signalType: 'sell', generatedAt: new Date('2025-02-05T15:00:00Z'), quantity: '1' });
    await expect(placeOrderFromSignal(execution, third.signal.id, { accountId: 'sig-a' })).rejects.toBeInstanceOf(RiskRejectedError);
  });
});
