import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApiServer } from '../../src/api/api-server.ts';
import { UserFacingError } from '../../src/db/errors.ts';
import { ingestBars } from '../../src/services/data-ingestion/ingest-pipeline.ts';
import { CsvProvider } from '../../src/services/data-ingestion/providers/csv-provider.ts';
import { OrderService } from '../../src/services/execution/order-service.ts';
import type { NewOrderInput } from '../../src/services/execution/order-input.ts';
import { ApiTokenService } from '../../src/services/shared/api-token-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';
import { seededRandom } from '../support/seeded-random.ts';

const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)]!;

const NASTY = ["'; DROP TABLE shared.accounts; --", '1e9999', 'NaN', '-0', '0x10', '١٢٣', '\u202e12', ' ', '9'.repeat(40), '1.123456789', '$1', 'null'];

let trading: TradingDatabase;
let work: string;
beforeAll(async () => {
  trading = await openTradingDatabase('fuzz', { accounts: ['fuzz-a'], symbols: ['FUZZ'] });
  work = mkdtempSync(path.join(os.tmpdir(), 'tradedb-fuzz-'));
});
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await trading?.close();
});

const countOf = async (table: string) => Number((await trading.admin.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

it('10,000 generated bad CSV rows: every one rejected with its reason logged, no bar written', async () => {
  const next = seededRandom(6);
  const good = ['FUZZ', '2025-01-02', '10', '11', '9', '10.5', '1000'];
  const breakages: Array<(row: string[]) => void> = [
    (row) => (row[0] = pick(next, ['NOPE', '', 'fuzz fuzz', NASTY[0]!])),
    (row) => (row[1] = pick(next, ['2025-13-45', 'yesterday', '', '2025-02-30', '99999-01-01', NASTY[0]!])),
    // (More than 8 decimals is not bad in a bar: prices are stored rounded to numeric(20,8).)
    (row) => (row[2 + Math.floor(next() * 4)] = pick(next, ['-1', 'abc', '', ...NASTY.filter((value) => value !== '1.123456789')])),
    (row) => ((row[3] = '5'), (row[4] = '50')), // high below low
    (row) => (row[6] = pick(next, ['-5', 'many', '1.5.5'])),
    (row) => ((row[5] = '100'), (row[3] = '11')), // close above high
  ];
  const lines = ['symbol,timestamp,open,high,low,close,volume'];
  for (let index = 0; index < 10_000; index += 1) {
    const row = [...good];
    row[1] = `2025-01-${String(1 + (index % 28)).padStart(2, '0')}`;
    pick(next, breakages)(row);
    lines.push(row.map((field) => (/[",\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field)).join(','));
  }
  const file = path.join(work, 'fuzz.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const bars = await countOf('data_ingestion.market_data');

  const summary = await ingestBars(trading.pools.services.data_ingestion, { provider: new CsvProvider({ path: file }), interval: '1d', source: 'fuzz' });
  expect(summary).toMatchObject({ status: 'failed', read: 10_000, inserted: 0, updated: 0, rejected: 10_000 });
  expect(await countOf('data_ingestion.market_data')).toBe(bars);
  const logged = await trading.admin.query<{ n: string }>('SELECT count(*) AS n FROM data_ingestion.data_quality_logs WHERE ingestion_run_id = $1', [summary.runId]);
  expect(Number(logged.rows[0]!.n)).toBe(10_000);
}, 120_000);

/** The ways an order can be wrong, each breaking one field of a good one. */
const BREAKAGES: Array<(order: Record<string, unknown>, next: () => number) => void> = [
  (order, next) => (order.quantity = pick(next, ['0', '-1', 'abc', '', '0.000000001', '1e5', ...NASTY])),
  (order, next) => (order.symbol = pick(next, ['NOPE', '', NASTY[0]!, 'a'.repeat(100)])),
  (order, next) => (order.accountId = pick(next, ['nobody', '', NASTY[0]!])),
  (order, next) => ((order.orderType = 'limit'), (order.limitPrice = pick(next, [undefined, '0', '-3', 'cheap', ...NASTY]))),
  (order, next) => (order.side = pick(next, ['hold', '', 'BUY '])),
  (order, next) => (order.timeInForce = pick(next, ['forever', ''])),
  (order, next) => (order.orderType = pick(next, ['iceberg', ''])),
  (order, next) => (order.clientOrderId = pick(next, ['', ' ', 'x'.repeat(200)])),
  (order, next) => ((order.orderType = 'stop'), (order.stopPrice = pick(next, [undefined, '-1', 'soon']))),
];

/** A good order (the service's field names) with one field broken. */
function badOrder(next: () => number): Record<string, unknown> {
  const order: Record<string, unknown> = { accountId: 'fuzz-a', symbol: 'FUZZ', side: 'buy', quantity: '1' };
  pick(next, BREAKAGES)(order, next);
  return order;
}

const tradingRows = async () => ({ orders: await countOf('execution.orders'), trades: await countOf('execution.trades'), events: await countOf('shared.event_outbox') });

/**
 * Sends `count` generated bad orders ten at a time, as concurrent clients would; `send` returns
 * what went wrong with one (accepted, or refused the wrong way), else undefined. Nothing may be
 * written: no order, trade or event.
 */
async function sendBadOrders(seed: number, count: number, send: (order: Record<string, unknown>, index: number) => Promise<string | undefined>): Promise<void> {
  const next = seededRandom(seed);
  const before = await tradingRows();
  const unexpected: string[] = [];
  for (let index = 0; index < count; index += 10) {
    const batch = Array.from({ length: 10 }, () => badOrder(next));
    const outcomes = await Promise.all(batch.map((order, offset) => send(order, index + offset)));
    unexpected.push(...outcomes.filter((outcome): outcome is string => outcome !== undefined));
  }
  expect(unexpected.slice(0, 5)).toEqual([]);
  expect(await tradingRows()).toEqual(before);
}

it('10,000 generated bad orders: each a typed error naming what is wrong, and no order, trade or event written', async () => {
  const orders = new OrderService(trading.pool);
  await sendBadOrders(9, 10_000, async (order) => {
    try {
      await orders.place(order as unknown as NewOrderInput);
      return `accepted: ${JSON.stringify(order)}`;
    } catch (error) {
      return error instanceof UserFacingError ? undefined : `${(error as Error).name}: ${(error as Error).message} for ${JSON.stringify(order)}`;
    }
  });
}, 180_000);

it('10,000 generated bad orders through POST /orders: each a 4xx in the API error shape, and no order, trade or event written', async () => {
  const token = (await new ApiTokenService(trading.owner).create({ name: 'fuzzer', scope: 'trade' })).token;
  const api = await buildApiServer({ pools: trading.pools, rateLimitPerMinute: 1_000_000 });
  try {
    await sendBadOrders(10, 10_000, async (order, index) => {
      const { accountId, orderType, clientOrderId, ...rest } = order;
      const body = JSON.stringify({ ...rest, account: accountId, type: orderType });
      const response = await api.inject({
        method: 'POST',
        url: '/orders',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': clientOrderId === undefined ? `fuzz-${index}` : String(clientOrderId) },
        payload: body,
      });
      const error = response.statusCode >= 400 && response.statusCode < 500 ? (response.json() as { error?: { code?: string; message?: string } }).error : undefined;
      return error?.code && error.message ? undefined : `${response.statusCode} ${response.body.slice(0, 200)} for ${body}`;
    });
  } finally {
    await api.close();
  }
}, 180_000);
