import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { barLineage, companyLineage, formatLineage, holderLineage, statisticsLineage, tradeLineage } from '../../src/ops/lineage.ts';
import { storeReferenceData } from '../../src/services/data-ingestion/reference-data-loader.ts';
import { KEY_STATISTIC_COLUMNS, type KeyStatistic } from '../../src/services/data-ingestion/reference-data.ts';
import { ingestBars } from '../../src/services/data-ingestion/ingest-pipeline.ts';
import { CsvProvider } from '../../src/services/data-ingestion/providers/csv-provider.ts';
import { recordFill } from '../../src/services/execution/fill-service.ts';
import { OrderService } from '../../src/services/execution/order-service.ts';
import { placeOrderFromSignal } from '../../src/services/execution/signal-orders.ts';
import { StrategyService } from '../../src/services/strategy-engine/strategy-service.ts';
import { withCorrelation } from '../../src/shared/correlation.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

let trading: TradingDatabase;
let work: string;
beforeAll(async () => {
  trading = await openTradingDatabase('lineage', { accounts: ['lin-a', 'lin-b'], symbols: ['LIN'] });
  work = mkdtempSync(path.join(os.tmpdir(), 'tradedb-lineage-'));
});
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await trading?.close();
});

it('a bar leads to the ingestion run that wrote it, with its source, parameters and rejected rows', async () => {
  const file = path.join(work, 'bars.csv');
  writeFileSync(file, 'symbol,timestamp,open,high,low,close,volume\nLIN,2025-04-01,10,11,9,10.5,100\nLIN,2025-04-02,10,9,11,10,100\n');
  const run = await ingestBars(trading.pools.services.data_ingestion, { provider: new CsvProvider({ path: file }), interval: '1d', source: 'lineage-test' });
  const lineage = await barLineage(trading.pools.services.data_ingestion, { symbol: 'lin', interval: '1d', at: new Date('2025-04-01T00:00:00Z') });
  expect(lineage.steps.map((step) => step.what)).toEqual(['bar', 'ingestion run']);
  expect(lineage.steps[0]!.row).toMatchObject({ symbol: 'LIN', source: 'lineage-test', ingestion_run_id: run.runId });
  expect(lineage.steps[1]!.row).toMatchObject({ id: run.runId, source: 'lineage-test', status: 'partial', rows_inserted: 1, rows_rejected: 1, rejected_rows_logged: 1, parameters: { provider: 'csv' } });
  expect(formatLineage(lineage)).toMatch(/^bar\n[\s\S]*\n {2}<- ingestion run\n/);
  await expect(barLineage(trading.pools.services.data_ingestion, { symbol: 'LIN', interval: '1d', at: new Date('2025-04-02T00:00:00Z') })).rejects.toThrow('No 1d bar of LIN at 2025-04-02T00:00:00.000Z.');
});

it('key statistics, a holder and a company profile each lead to the ingestion run that wrote them last', async () => {
  const pool = trading.pools.services.data_ingestion;
  const statistics = Object.fromEntries(Object.keys(KEY_STATISTIC_COLUMNS).map((name) => [name, null])) as Record<KeyStatistic, string | null>;
  const company = { name: 'Lineage Inc', sector: 'Tech', industry: null, country: null, website: null, description: 'long text', employees: 12, marketCap: '1000000' };
  const holders = [{ reportDate: '2025-03-31', holder: 'Vanguard Group', shares: '1000', value: '50000', pctHeld: '0.01' }];
  const first = await storeReferenceData(pool, 'LIN', { company, statistics: { ...statistics, peRatio: '21.5' }, holders }, { source: 'lineage-ref', asOf: '2025-04-01' });
  // A later run replaces the profile: its lineage follows the newest run.
  const second = await storeReferenceData(pool, 'LIN', { company: { ...company, employees: 14 }, statistics: null, holders: [] }, { source: 'lineage-ref', asOf: '2025-04-02' });

  const stats = await statisticsLineage(pool, 'lin', '2025-04-01');
  expect(stats.steps.map((step) => step.what)).toEqual(['key statistics', 'ingestion run']);
  expect(stats.steps[0]!.row).toMatchObject({ symbol: 'LIN', pe_ratio: 21.5, ingestion_run_id: first.runId });
  expect(stats.steps[1]!.row).toMatchObject({ id: first.runId, source: 'lineage-ref', status: 'succeeded', parameters: { kind: 'reference-data', symbol: 'LIN', asOf: '2025-04-01' } });
  const holder = await holderLineage(pool, 'LIN', '2025-03-31', 'Vanguard Group');
  expect(holder.steps.map((step) => [step.what, step.row.ingestion_run_id ?? step.row.id])).toEqual([['institutional holder', first.runId], ['ingestion run', first.runId]]);
  const profile = await companyLineage(pool, 'LIN');
  expect(profile.steps[0]!.row).toMatchObject({ employees: 14, ingestion_run_id: second.runId });
  expect(profile.steps[0]!.row).not.toHaveProperty('description');
  await expect(statisticsLineage(pool, 'LIN', '2025-04-02')).rejects.toThrow('No key statistics of LIN as of 2025-04-02.');
  await expect(holderLineage(pool, 'LIN', '2025-03-31', 'Nobody')).rejects.toThrow('No holder "Nobody" of LIN in the report of 2025-03-31.');
});

it('a trade leads to its order (history and events), the signal and the strategy; another account sees nothing', async () => {
  const strategies = new StrategyService(trading.pools.services.strategy_engine);
  const strategy = await strategies.create({ name: 'lineage', kind: 'manual' });
  await strategies.update(strategy.id, 1, { status: 'active' });
  const tradeId = await withCorrelation({ correlationId: 'corr-lineage' }, async () => {
    const { signal } = await strategies.recordSignal(strategy.id, { symbol: 'LIN', signalType: 'buy', generatedAt: new Date('2025-04-01T15:00:00Z'), quantity: '3' });
    const { order } = await placeOrderFromSignal(trading.pool, signal.id, { accountId: 'lin-a' });
    await new OrderService(trading.pool).submit('lin-a', order.id);
    return (await recordFill(trading.pool, { accountId: 'lin-a', orderId: order.id, brokerFillId: 'lin-fill', quantity: '3', price: '10' })).trade.id;
  });
  const lineage = await tradeLineage(trading.pool, 'lin-a', tradeId);
  expect(lineage.steps.map((step) => step.what)).toEqual(['trade', 'order', 'signal', 'strategy']);
  const [trade, order, signal, found] = lineage.steps.map((step) => step.row);
  expect(order).toMatchObject({ id: trade!.order_id, signal_id: signal!.id, strategy_id: strategy.id, status: 'filled' });
  expect((order!.history as Array<{ to: string }>).map((change) => change.to)).toEqual(['pending', 'submitted', 'filled']);
  expect((order!.events as Array<{ type: string; correlationId: string }>).map((event) => [event.type, event.correlationId])).toEqual([
    ['order.placed', 'corr-lineage'],
    ['order.updated', 'corr-lineage'],
    ['order.updated', 'corr-lineage'],
  ]);
  expect(found).toMatchObject({ id: strategy.id, name: 'lineage', kind: 'manual' });
  await expect(tradeLineage(trading.pool, 'lin-b', tradeId)).rejects.toThrow(`No trade ${tradeId} in account lin-b.`);
});
