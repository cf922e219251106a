import { afterAll, beforeAll, expect, it } from 'vitest';
import { PortfolioAnalytics } from '../../../src/services/analytics/portfolio-analytics.ts';
import { executeOrder } from '../../../src/services/execution/order-execution.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
beforeAll(async () => {
  trading = await openTradingDatabase('analytics', { accounts: ['an-a'], symbols: ['ANX', 'ANY'] });
  await trading.admin.query("UPDATE shared.accounts SET starting_cash = 10000 WHERE account_id = 'an-a'");
  // Closes: ANX 12 on Jan 3rd, 15 on Jan 4th; ANY has no bars (its last trade price counts).
  await trading.admin.query("SELECT shared.create_monthly_partitions('data_ingestion.market_data', '2025-01-01', 1)");
  await trading.admin.query(`INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source) VALUES
    ('ANX', '1d', '2025-01-03', 11, 12, 10, 12, 100, 't'), ('ANX', '1d', '2025-01-04', 12, 15, 12, 15, 100, 't')`);
  const execution = trading.pools.services.execution;
  const trade = (id: string, symbol: string, side: 'buy' | 'sell', quantity: string, price: string, at: string, fees = '0') =>
    executeOrder(execution, { accountId: 'an-a', clientOrderId: id, symbol, side, quantity }, { brokerFillId: id, quantity, price, fees, executedAt: new Date(at) });
  await trade('t1', 'ANX', 'buy', '100', '10', '2025-01-02T15:00:00Z', '1');
  await trade('t2', 'ANY', 'sell', '10', '50', '2025-01-02T16:00:00Z');
  await trade('t3', 'ANX', 'sell', '40', '13', '2025-01-03T15:00:00Z', '1');
});
afterAll(() => trading?.close());

it('computes a summary from raw rows, by hand-checked arithmetic, the same every time', async () => {
  const analytics = new PortfolioAnalytics(trading.pools.services.analytics);
  // Midnight after Jan 3rd: the Jan 3rd bar has ended, its close (12) is known; Jan 4th's is not.
  const asOf = new Date('2025-01-04T00:00:00Z');
  const summary = await analytics.summarize('an-a', asOf);
  // cash: 10000 - 1000 - 1 (buy ANX) + 500 (short ANY) + 520 - 1 (sell 40 ANX) = 10018
  // ANX: 60 held at the Jan 3rd close 12 = 720; ANY: -10 at its last trade 50 = -500.
  // realized: 40 × (13 - 10) - 1 (fees of the sale) - 1 (fees of the buy) = 118
  expect(summary).toMatchObject({ cash: '10018', marketValue: '220', equity: '10238', grossExposure: '1220', netExposure: '220', realizedPnl: '118', unrealizedPnl: '120' });
  expect(await analytics.summarize('an-a', asOf)).toEqual(summary);
});

it('computes daily summaries and the performance of a period, reproducibly', async () => {
  const analytics = new PortfolioAnalytics(trading.pools.services.analytics);
  const first = await analytics.performance('an-a', '2025-01-02', '2025-01-04');
  expect(first.summaries.map((day) => [day.asOf.toISOString().slice(0, 10), day.equity])).toEqual([
    ['2025-01-02', '10000'],
    ['2025-01-03', '9999'], // after Jan 2nd's trades, no bar ended yet: ANX at its trade price 10, ANY at 50, minus the fee.
    ['2025-01-04', '10238'],
    ['2025-01-05', '10418'], // ANX closes at 15: 60 × 15 - 500 + 10018
  ]);
  expect(first.performance).toMatchObject({ period: 'inception', trades: 3, returns: '0.0418', winRate: '1', realizedPnl: '118' });
  expect(Number(first.performance.maxDrawdown)).toBeCloseTo(0.0001, 8);
  const again = await analytics.performance('an-a', '2025-01-02', '2025-01-04');
  expect(again).toEqual(first);
  const { rows } = await trading.admin.query("SELECT count(*)::int AS n FROM analytics.performance_metrics WHERE account_id = 'an-a'");
  expect(rows[0].n).toBe(1);
});
