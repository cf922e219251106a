import { afterAll, beforeAll, expect, it } from 'vitest';
import { executeOrder } from '../../../src/services/execution/order-execution.ts';
import { StrategyPerformance } from '../../../src/services/strategy-engine/strategy-performance.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
let strategyId: number;
beforeAll(async () => {
  trading = await openTradingDatabase('stratperf', { accounts: ['perf-a', 'perf-b'], symbols: ['SP'] });
  strategyId = (await trading.admin.query("INSERT INTO strategy_engine.strategies (name, kind) VALUES ('perf', 'manual') RETURNING id::int")).rows[0].id;
});
afterAll(() => trading?.close());

/** A filled order of the strategy (or of none), executed on 2025-03-03 at `time`. */
function fill(accountId: string, id: string, side: 'buy' | 'sell', quantity: string, price: string, options: { fees?: string; strategy?: boolean; day?: string } = {}) {
  return executeOrder(
    trading.pool,
    { accountId, clientOrderId: id, symbol: 'SP', side, quantity, strategyId: options.strategy === false ? null : strategyId },
    { brokerFillId: id, quantity, price, fees: options.fees ?? '0', executedAt: new Date(`${options.day ?? '2025-03-03'}T15:00:00Z`) },
  );
}

it("sums a strategy's day over every account's fills, and recording it again gives the same row", async () => {
  // Account A: buy 10 at 10, sell 10 at 12 (+20, fees 1 each way). Account B: buy 5 at 20, sell 5 at 18 (-10).
  await fill('perf-a', 'a1', 'buy', '10', '10', { fees: '1' });
  await fill('perf-a', 'a2', 'sell', '10', '12', { fees: '1' });
  await fill('perf-b', 'b1', 'buy', '5', '20');
  await fill('perf-b', 'b2', 'sell', '5', '18');
  // Not the strategy's, and not that day: left out.
  await fill('perf-b', 'other', 'buy', '1', '20', { strategy: false });
  await fill('perf-a', 'next-day', 'buy', '1', '11', { day: '2025-03-04' });

  const performance = new StrategyPerformance(trading.pools.services.strategy_engine);
  expect(await performance.record('2025-03-03')).toBe(1);
  const expected = [{ strategyId, asOf: '2025-03-03', trades: 4, winRate: '0.5', profitFactor: '2', realizedPnl: '8' }];
  expect(await performance.list(strategyId, { from: '2025-03-03', to: '2025-03-03' })).toEqual(expected);
  expect(await performance.record('2025-03-03')).toBe(1);
  expect(await performance.list(strategyId, { to: '2025-03-03' })).toEqual(expected);
  expect(await performance.record('2025-03-05')).toBe(0);
  // The strategy engine sees the aggregate, never the accounts' trades.
  await expect(trading.pools.services.strategy_engine.query('SELECT count(*) FROM execution.trades')).rejects.toMatchObject({ code: '42501' });
});
