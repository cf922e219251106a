import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEventBus } from '../../../src/events/event-bus.ts';
import type { OutboxRelay } from '../../../src/events/outbox-relay.ts';
import { startLiveAnalytics } from '../../../src/services/analytics/live-analytics.ts';
import { PortfolioAnalytics } from '../../../src/services/analytics/portfolio-analytics.ts';
import { executeOrder } from '../../../src/services/execution/order-execution.ts';
import { busConfig, openEventDatabase, type EventDatabase } from '../../support/event-harness.ts';
import { waitFor } from '../../support/wait-for.ts';

let db: EventDatabase;
let relay: OutboxRelay;
let live: Awaited<ReturnType<typeof startLiveAnalytics>>;
const config = busConfig(undefined);
const bus = createEventBus(config);
const today = new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  db = await openEventDatabase('live_analytics');
  await db.admin.query("UPDATE shared.accounts SET starting_cash = 10000 WHERE account_id = 'acct-e'");
  await db.admin.query("SELECT shared.create_monthly_partitions('data_ingestion.market_data', '2025-03-01', 1)");
  await db.admin.query(`INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source) VALUES
    ('EVT', '1d', '2025-03-03', 19, 21, 18, 20, 100, 't'), ('EVT', '1d', '2025-03-04', 20, 23, 20, 22, 100, 't')`);
  relay = bus.createRelay({ pool: db.owner, pollIntervalMs: 50 });
  await relay.start();
  live = await startLiveAnalytics(config, db.pools);
});
afterAll(async () => {
  await live?.stop();
  await relay?.stop();
  await bus.close();
  await db?.close();
});

/** The account's stored analytics, every column but the bookkeeping timestamps. */
async function storedAnalytics() {
  const summaries = await db.admin.query(
    "SELECT as_of, cash, market_value, equity, gross_exposure, net_exposure, realized_pnl, unrealized_pnl FROM analytics.portfolio_summary WHERE account_id = 'acct-e' ORDER BY as_of",
  );
  const metrics = await db.admin.query(
    "SELECT period, period_start::text, period_end::text, returns, volatility, sharpe, max_drawdown, trades, win_rate, realized_pnl FROM analytics.performance_metrics WHERE account_id = 'acct-e' ORDER BY period_start",
  );
  return { summaries: summaries.rows, metrics: metrics.rows };
}

it('trades keep the summaries and daily metrics current, and the nightly recompute from raw tables agrees exactly', async () => {
  const trade = (id: string, side: 'buy' | 'sell', quantity: string, price: string, at: string) =>
    executeOrder(db.pool, { accountId: 'acct-e', clientOrderId: id, symbol: 'EVT', side, quantity }, { brokerFillId: id, quantity, price, fees: '1', executedAt: new Date(at) });
  await trade('la-1', 'buy', '100', '19.5', '2025-03-03T15:00:00Z');
  await trade('la-2', 'sell', '40', '21', '2025-03-04T15:00:00Z');
  await trade('la-3', 'buy', '10', '21.5', '2025-03-04T16:00:00Z');
  await waitFor(async () => live.consumer.counts.handled >= 3, { timeoutMs: 20_000 });

  const kept = await storedAnalytics();
  expect(kept.summaries.map((row) => row.as_of.toISOString())).toEqual(['2025-03-03T00:00:00.000Z', '2025-03-04T00:00:00.000Z', '2025-03-05T00:00:00.000Z']);
  // After Mar 4th: 70 held at the close 22; cash 10000 - 1950 - 1 + 840 - 1 - 215 - 1 = 8672;
  // realized 40 × (21 - 19.5) less the three fills' fees = 57.
  expect(kept.summaries[2]).toMatchObject({ cash: '8672.00000000', market_value: '1540.00000000', realized_pnl: '57.00000000' });
  expect(kept.metrics.map((row) => [row.period, row.period_start, row.trades])).toEqual([
    ['daily', '2025-03-03', 1],
    ['daily', '2025-03-04', 2],
  ]);

  // The nightly flow's computation, from raw tables, over the same days.
  const analytics = new PortfolioAnalytics(db.pools.services.analytics);
  await analytics.closeDay('acct-e', '2025-03-03');
  await analytics.closeDay('acct-e', '2025-03-04');
  expect(await storedAnalytics()).toEqual(kept);
});

it('bars loaded later reprice what is held: an ingestion run recomputes the day it finished', async () => {
  await db.admin.query(`SELECT shared.create_monthly_partitions('data_ingestion.market_data', $1::date, 1)`, [today]);
  await db.admin.query(`INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source) VALUES ('EVT', '1d', $1::date - 1, 22, 30, 22, 30, 100, 't')`, [today]);
  const run = await db.admin.query("INSERT INTO data_ingestion.ingestion_runs (source) VALUES ('t') RETURNING id");
  await db.admin.query("UPDATE data_ingestion.ingestion_runs SET status = 'succeeded', finished_at = now(), rows_read = 1, rows_inserted = 1 WHERE id = $1", [run.rows[0].id]);
  const endOfToday = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000);
  const summaryOfToday = () => db.admin.query("SELECT market_value FROM analytics.portfolio_summary WHERE account_id = 'acct-e' AND as_of = $1", [endOfToday]);
  await waitFor(async () => (await summaryOfToday()).rows.length > 0, { timeoutMs: 20_000 });
  const { rows } = await summaryOfToday();
  // 70 held at yesterday's close 30.
  expect(rows).toEqual([{ market_value: '2100.00000000' }]);
});
