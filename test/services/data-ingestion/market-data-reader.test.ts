import { Writable } from 'node:stream';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../../src/db/errors.ts';
import { ingestBars } from '../../../src/services/data-ingestion/ingest-pipeline.ts';
import type { BarFields } from '../../../src/services/data-ingestion/input-row.ts';
import type { Interval } from '../../../src/services/data-ingestion/interval.ts';
import { barSources, latestBars, resampleBars, type StoredBar, streamBars } from '../../../src/services/data-ingestion/market-data-reader.ts';
import { SyntheticProvider } from '../../../src/services/data-ingestion/providers/synthetic-provider.ts';
import { referenceDataRepository } from '../../../src/services/data-ingestion/reference-data-repository.ts';
import { SymbolService } from '../../../src/services/data-ingestion/symbol-service.ts';
import { dailyBar, memoryProvider } from '../../support/bar-rows.ts';
import { type IngestionDatabase, openIngestionDatabase } from '../../support/ingestion-database.ts';

let ingestion: IngestionDatabase;
let pool: pg.Pool;
let admin: pg.Client;
let symbols: SymbolService;

beforeAll(async () => {
  ingestion = await openIngestionDatabase('reader');
  ({ pool, admin, symbols } = ingestion);
});
afterAll(() => ingestion?.close());

/** Loads `rows` (symbols must exist) and checks every row went in. */
async function load(rows: BarFields[], interval: Interval, source: string): Promise<void> {
  const summary = await ingestBars(pool, { provider: memoryProvider(rows), interval, source, now: () => Date.parse('2030-01-01T00:00:00Z') });
  expect(summary, summary.error ?? '').toMatchObject({ status: 'succeeded', inserted: rows.length, rejected: 0 });
}

/** A Writable that keeps what it is given, as text, and how it was given. */
class Collector extends Writable {
  text = '';
  chunks = 0;
  largestChunk = 0;
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    this.chunks += 1;
    this.largestChunk = Math.max(this.largestChunk, chunk.length);
    callback();
  }
}

/**
 * Counts lines without keeping them (only the first and last), and answers each write on a later
 * turn of the event loop, so a producer that ignored backpressure would pile data up in front of it.
 */
class LineCounter extends Writable {
  lines = 0;
  bytes = 0;
  chunks = 0;
  largestChunk = 0;
  first = '';
  private tail = '';
  constructor() {
    super({ highWaterMark: 16 * 1024 });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = chunk.toString();
    this.chunks += 1;
    this.bytes += chunk.length;
    this.largestChunk = Math.max(this.largestChunk, chunk.length);
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) this.lines += 1;
    if (this.first.length < 4096) this.first += text.slice(0, 4096);
    this.tail = (this.tail + text).slice(-4096);
    setImmediate(callback);
  }
  get lastLine(): string {
    return this.tail.trimEnd().split('\n').at(-1) ?? '';
  }
}

const CSV_HEADER = 'symbol,interval,ts,open,high,low,close,volume,vwap,trade_count,source';

/** The value of `key` in a JSON line as its literal text: quoted or not, the digits must be exact. */
function jsonValueText(line: string, key: string): string | undefined {
  const match = new RegExp(`"${key}":("([^"]*)"|[^,}]*)`).exec(line);
  if (!match) return undefined;
  return match[2] ?? match[1];
}

/** Decimal text without padding zeros ("28.12300000" -> "28.123"), for values read back as ::text. */
function canonical(text: string | null | undefined): string | null | undefined {
  if (text === null || text === undefined || !text.includes('.')) return text;
  return text.replace(/0+$/, '').replace(/\.$/, '');
}

describe('streamBars', () => {
  const hour = (h: number) => `2024-01-15T${String(h).padStart(2, '0')}:00:00Z`;
  beforeAll(async () => {
    await symbols.add({ symbol: 'RDR' });
    await symbols.add({ symbol: 'OTHER' });
    await load(
      [
        { symbol: 'RDR', timestamp: hour(10), open: '123.45678901', high: '124', low: '10.5', close: '10.5', volume: '1000', vwap: '100.25', tradeCount: '42' },
        { symbol: 'RDR', timestamp: '2024-01-15T06:00:00-05:00', open: '0.00000001', high: '99999999999.99999999', low: '0.00000001', close: '1.10', volume: '12345678901234567890', tradeCount: '0' },
        { symbol: 'RDR', timestamp: hour(12), open: '10.5', high: '10.50000000', low: '10', close: '10.25', volume: '0' },
        { symbol: 'RDR', timestamp: hour(13), open: '7', high: '8', low: '6', close: '7.5', volume: '5' },
        { symbol: 'OTHER', timestamp: hour(11), open: '1', high: '1', low: '1', close: '1', volume: '1' },
      ],
      '1h',
      'srcA',
    );
    await load([{ symbol: 'RDR', timestamp: hour(11), open: '2', high: '3', low: '1', close: '2.5', volume: '77', vwap: '2.2' }], '1h', 'srcB');
    // Same symbol, another interval: never mixed into the 1h series.
    await load([dailyBar('RDR', '2024-01-15')], '1d', 'srcA');
  });

  const expectedCsv = [
    'RDR,1h,2024-01-15T10:00:00Z,123.45678901,124,10.5,10.5,1000,100.25,42,srcA',
    'RDR,1h,2024-01-15T11:00:00Z,0.00000001,99999999999.99999999,0.00000001,1.1,12345678901234567890,,0,srcA',
    'RDR,1h,2024-01-15T11:00:00Z,2,3,1,2.5,77,2.2,,srcB',
    'RDR,1h,2024-01-15T12:00:00Z,10.5,10.5,10,10.25,0,,,srcA',
    'RDR,1h,2024-01-15T13:00:00Z,7,8,6,7.5,5,,,srcA',
  ];

  it('writes CSV: header, then exact rows ordered by time and source, ISO UTC timestamps, no padding zeros', async () => {
    const out = new Collector();
    const written = await streamBars(pool, { symbol: 'RDR', interval: '1h' }, 'csv', out);
    expect(written).toBe(5);
    expect(out.text).toBe(`${[CSV_HEADER, ...expectedCsv].join('\n')}\n`);
    expect(out.writableEnded).toBe(false); // the caller's stream stays open (stdout)
  });

  it('selects [from, to): from inclusive, to exclusive', async () => {
    const out = new Collector();
    const written = await streamBars(pool, { symbol: 'RDR', interval: '1h', from: new Date(hour(11)), to: new Date(hour(13)) }, 'csv', out);
    expect(written).toBe(3);
    expect(out.text).toBe(`${[CSV_HEADER, ...expectedCsv.slice(1, 4)].join('\n')}\n`);

    const onlyFrom = new Collector();
    expect(await streamBars(pool, { symbol: 'RDR', interval: '1h', from: new Date(hour(13)) }, 'csv', onlyFrom)).toBe(1);
    expect(onlyFrom.text).toBe(`${CSV_HEADER}\n${expectedCsv[4]}\n`);

    const onlyTo = new Collector();
    expect(await streamBars(pool, { symbol: 'RDR', interval: '1h', to: new Date(hour(10)) }, 'csv', onlyTo)).toBe(0);
    expect(onlyTo.text).toBe(`${CSV_HEADER}\n`);

    // An instant between two bars: 10:00:00.001 leaves the 10:00 bar out.
    const between = new Collector();
    expect(await streamBars(pool, { symbol: 'RDR', interval: '1h', from: new Date(Date.parse(hour(10)) + 1), to: new Date(Date.parse(hour(11)) + 1) }, 'csv', between)).toBe(2);
  });

  it('filters by source', async () => {
    const out = new Collector();
    expect(await streamBars(pool, { symbol: 'RDR', interval: '1h', source: 'srcB' }, 'csv', out)).toBe(1);
    expect(out.text).toBe(`${CSV_HEADER}\n${expectedCsv[2]}\n`);
    const none = new Collector();
    expect(await streamBars(pool, { symbol: 'RDR', interval: '1h', source: "no'such" }, 'csv', none)).toBe(0);
    expect(none.text).toBe(`${CSV_HEADER}\n`);
  });

  it('writes JSON lines: one object per line, decimals as their exact text', async () => {
    const out = new Collector();
    expect(await streamBars(pool, { symbol: 'RDR', interval: '1h' }, 'json', out)).toBe(5);
    const lines = out.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(5);
    const objects = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects.map((bar) => [bar.symbol, bar.interval, bar.ts, bar.source])).toEqual([
      ['RDR', '1h', '2024-01-15T10:00:00Z', 'srcA'],
      ['RDR', '1h', '2024-01-15T11:00:00Z', 'srcA'],
      ['RDR', '1h', '2024-01-15T11:00:00Z', 'srcB'],
      ['RDR', '1h', '2024-01-15T12:00:00Z', 'srcA'],
      ['RDR', '1h', '2024-01-15T13:00:00Z', 'srcA'],
    ]);
    const columns = ['open', 'high', 'low', 'close', 'volume', 'vwap', 'trade_count'];
    const texts = lines.map((line) => columns.map((column) => jsonValueText(line, column)));
    expect(texts).toEqual([
      ['123.45678901', '124', '10.5', '10.5', '1000', '100.25', '42'],
      ['0.00000001', '99999999999.99999999', '0.00000001', '1.1', '12345678901234567890', 'null', '0'],
      ['2', '3', '1', '2.5', '77', '2.2', 'null'],
      ['10.5', '10.5', '10', '10.25', '0', 'null', 'null'],
      ['7', '8', '6', '7.5', '5', 'null', 'null'],
    ]);
    expect(objects[0]).toMatchObject({ vwap: expect.anything(), trade_count: 42 });
    expect(objects[3]).toMatchObject({ vwap: null, trade_count: null });
  });

  it('streams a large range to a Writable in many small chunks, honouring backpressure', async () => {
    const start = new Date('2024-02-01T00:00:00Z');
    const summary = await ingestBars(pool, {
      provider: new SyntheticProvider({ symbols: ['BIG'], interval: '1m', bars: 100_000, seed: 11, start }),
      interval: '1m',
      source: 'synthetic',
      createSymbols: true,
    });
    expect(summary).toMatchObject({ status: 'succeeded', inserted: 100_000 });

    const csv = new LineCounter();
    expect(await streamBars(pool, { symbol: 'BIG', interval: '1m' }, 'csv', csv)).toBe(100_000);
    expect(csv.lines).toBe(100_001);
    expect(csv.first.startsWith(`${CSV_HEADER}\nBIG,1m,2024-02-01T00:00:00Z,`)).toBe(true);
    // 100,000 minutes after Feb 1st 00:00 is Apr 10th 10:40; the last bar starts a minute before.
    expect(csv.lastLine).toMatch(/^BIG,1m,2024-04-10T10:39:00Z,/);
    // Delivered as it comes, not gathered first: many writes, none of them near the whole.
    expect(csv.chunks).toBeGreaterThan(100);
    expect(csv.largestChunk).toBeLessThan(csv.bytes / 20);

    const json = new LineCounter();
    const range = { symbol: 'BIG', interval: '1m' as const, from: new Date('2024-03-01T00:00:00Z'), to: new Date('2024-04-01T00:00:00Z') };
    expect(await streamBars(pool, range, 'json', json)).toBe(31 * 1440);
    expect(json.lines).toBe(31 * 1440);
    expect(JSON.parse(json.first.split('\n')[0]!)).toMatchObject({ symbol: 'BIG', ts: '2024-03-01T00:00:00Z' });
    expect(JSON.parse(json.lastLine)).toMatchObject({ symbol: 'BIG', ts: '2024-03-31T23:59:00Z' });
  });
});

describe('latestBars', () => {
  beforeAll(async () => {
    for (const symbol of ['LAT1', 'LAT2', 'LAT3']) await symbols.add({ symbol });
    // LAT1's bars sit in three monthly partitions; the newest month must win.
    await load([dailyBar('LAT1', '2024-03-28', 130), dailyBar('LAT1', '2024-01-05', 105), { ...dailyBar('LAT1', '2024-02-14', 114), vwap: '114.123', tradeCount: '9' }], '1d', 'main');
    await load([{ ...dailyBar('LAT2', '2024-02-29', 50), open: '50.10000000', vwap: '50.5', tradeCount: '17' }, dailyBar('LAT2', '2024-02-01', 40)], '1d', 'main');
    // A later bar from another source, and a later bar at another interval.
    await load([dailyBar('LAT1', '2024-04-02', 140)], '1d', 'alt');
    await load([{ ...dailyBar('LAT1', '2024-05-06', 150), timestamp: '2024-05-06T14:00:00Z' }], '1h', 'main');
  });

  it('gives the newest bar of each symbol, absent for symbols without bars, ordered by symbol', async () => {
    const bars = await latestBars(pool, ['LAT3', 'LAT2', 'LAT1', 'NOSUCH'], '1d', 'main');
    expect(bars).toEqual<StoredBar[]>([
      { symbol: 'LAT1', interval: '1d', ts: new Date('2024-03-28T00:00:00Z'), open: '130', high: '132', low: '128', close: '131', volume: '1000', vwap: null, tradeCount: null, source: 'main' },
      { symbol: 'LAT2', interval: '1d', ts: new Date('2024-02-29T00:00:00Z'), open: '50.1', high: '52', low: '48', close: '51', volume: '1000', vwap: '50.5', tradeCount: 17, source: 'main' },
    ]);
  });

  it('without a source, the newest of any source; the interval is respected', async () => {
    const bars = await latestBars(pool, ['LAT1'], '1d');
    expect(bars.map((bar) => [bar.ts.toISOString(), bar.source, bar.open])).toEqual([['2024-04-02T00:00:00.000Z', 'alt', '140']]);
    const hourly = await latestBars(pool, ['LAT1', 'LAT2'], '1h');
    expect(hourly.map((bar) => [bar.symbol, bar.ts.toISOString()])).toEqual([['LAT1', '2024-05-06T14:00:00.000Z']]);
    expect(await latestBars(pool, ['LAT1', 'LAT2'], '1wk')).toEqual([]);
    expect(await latestBars(pool, [], '1d')).toEqual([]);
  });
});

describe('resampleBars', () => {
  const minute = (time: string) => `2024-02-05T${time}:00Z`;
  beforeAll(async () => {
    await symbols.add({ symbol: 'RSM' });
    const bar = (time: string, open: string, high: string, low: string, close: string, volume: string, vwap?: string, tradeCount?: string): BarFields => ({
      symbol: 'RSM',
      timestamp: time.includes('T') ? time : minute(time),
      open,
      high,
      low,
      close,
      volume,
      ...(vwap ? { vwap } : {}),
      ...(tradeCount ? { tradeCount } : {}),
    });
    await load(
      [
        bar('09:58', '10', '11', '9.5', '10.5', '100', '10.2', '5'),
        bar('09:59', '10.5', '12', '10', '11', '200', '11.1', '7'),
        // Given out of order: the first open and last close come from time, not input order.
        bar('10:04', '12.5', '12.6', '12', '12.1', '150', '12.3', '10'),
        bar('10:00', '11', '11.5', '10.8', '11.2', '300', '11.15', '3'),
        bar('10:01', '11.2', '13', '11', '12.5', '50'),
        bar('10:05', '12.1', '12.2', '11.9', '12', '400', '12.05', '20'),
        bar('11:00', '12', '12.4', '11.8', '12.3', '70'),
        bar('2024-02-06T00:00:00Z', '20', '21', '19', '20.5', '10', '20', '1'),
      ],
      '1m',
      'rs',
    );
    // Another source at the same times: never mixed in.
    await load([bar('10:02', '500', '900', '1', '600', '999999', '700', '1000')], '1m', 'other');
    // Daily bars: Wed Jan 31 to Mon Feb 5 (weeks start on Monday, months on the 1st).
    await load([dailyBar('RSM', '2024-01-31', 100), dailyBar('RSM', '2024-02-01', 105), dailyBar('RSM', '2024-02-02', 103), dailyBar('RSM', '2024-02-05', 110)], '1d', 'rs');
  });

  const summary = (bars: StoredBar[]) => bars.map((bar) => ({ ts: bar.ts.toISOString(), open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume, vwap: bar.vwap, tradeCount: bar.tradeCount }));

  it('1m -> 5m: first open, highest high, lowest low, last close, summed volume and trades, volume-weighted vwap', async () => {
    const bars = await resampleBars(pool, { symbol: 'RSM', interval: '1m', source: 'rs' }, '5m');
    expect(bars.every((bar) => bar.symbol === 'RSM' && bar.interval === '5m' && bar.source === 'rs')).toBe(true);
    expect(summary(bars)).toEqual([
      // (10.2*100 + 11.1*200) / 300 = 3240 / 300
      { ts: '2024-02-05T09:55:00.000Z', open: '10', high: '12', low: '9.5', close: '11', volume: '300', vwap: '10.8', tradeCount: 12 },
      // vwap over the bars that have one: (11.15*300 + 12.3*150) / 450 = 5190 / 450 = 11.5333...
      { ts: '2024-02-05T10:00:00.000Z', open: '11', high: '13', low: '10.8', close: '12.1', volume: '500', vwap: '11.53333333', tradeCount: 13 },
      { ts: '2024-02-05T10:05:00.000Z', open: '12.1', high: '12.2', low: '11.9', close: '12', volume: '400', vwap: '12.05', tradeCount: 20 },
      { ts: '2024-02-05T11:00:00.000Z', open: '12', high: '12.4', low: '11.8', close: '12.3', volume: '70', vwap: null, tradeCount: null },
      { ts: '2024-02-06T00:00:00.000Z', open: '20', high: '21', low: '19', close: '20.5', volume: '10', vwap: '20', tradeCount: 1 },
    ]);
  });

  it('1m -> 1h', async () => {
    const bars = await resampleBars(pool, { symbol: 'RSM', interval: '1m', source: 'rs' }, '1h');
    expect(summary(bars)).toEqual([
      { ts: '2024-02-05T09:00:00.000Z', open: '10', high: '12', low: '9.5', close: '11', volume: '300', vwap: '10.8', tradeCount: 12 },
      // (11.15*300 + 12.3*150 + 12.05*400) / 850 = 10010 / 850 = 11.7764705882...
      { ts: '2024-02-05T10:00:00.000Z', open: '11', high: '13', low: '10.8', close: '12', volume: '900', vwap: '11.77647059', tradeCount: 33 },
      { ts: '2024-02-05T11:00:00.000Z', open: '12', high: '12.4', low: '11.8', close: '12.3', volume: '70', vwap: null, tradeCount: null },
      { ts: '2024-02-06T00:00:00.000Z', open: '20', high: '21', low: '19', close: '20.5', volume: '10', vwap: '20', tradeCount: 1 },
    ]);
    expect(bars.every((bar) => bar.interval === '1h')).toBe(true);
  });

  it('1m -> 1d (UTC days)', async () => {
    const bars = await resampleBars(pool, { symbol: 'RSM', interval: '1m', source: 'rs' }, '1d');
    expect(summary(bars)).toEqual([
      // (1020 + 2220 + 3345 + 1845 + 4820) / (100 + 200 + 300 + 150 + 400) = 13250 / 1150 = 11.5217391304...
      { ts: '2024-02-05T00:00:00.000Z', open: '10', high: '13', low: '9.5', close: '12.3', volume: '1270', vwap: '11.52173913', tradeCount: 45 },
      { ts: '2024-02-06T00:00:00.000Z', open: '20', high: '21', low: '19', close: '20.5', volume: '10', vwap: '20', tradeCount: 1 },
    ]);
  });

  it('only the bars of [from, to)', async () => {
    const bars = await resampleBars(pool, { symbol: 'RSM', interval: '1m', source: 'rs', from: new Date(minute('10:01')), to: new Date(minute('10:05')) }, '5m');
    expect(summary(bars)).toEqual([{ ts: '2024-02-05T10:00:00.000Z', open: '11.2', high: '13', low: '11', close: '12.1', volume: '200', vwap: '12.3', tradeCount: 10 }]);
  });

  it('the other source alone', async () => {
    const bars = await resampleBars(pool, { symbol: 'RSM', interval: '1m', source: 'other' }, '1h');
    expect(summary(bars)).toEqual([{ ts: '2024-02-05T10:00:00.000Z', open: '500', high: '900', low: '1', close: '600', volume: '999999', vwap: '700', tradeCount: 1000 }]);
    expect(await barSources(pool, ['RSM'], '1m')).toEqual(['other', 'rs']);
  });

  it('1d -> 1wk (from Monday) and 1mo (calendar months)', async () => {
    const weeks = await resampleBars(pool, { symbol: 'RSM', interval: '1d', source: 'rs' }, '1wk');
    expect(summary(weeks)).toEqual([
      { ts: '2024-01-29T00:00:00.000Z', open: '100', high: '107', low: '98', close: '104', volume: '3000', vwap: null, tradeCount: null },
      { ts: '2024-02-05T00:00:00.000Z', open: '110', high: '112', low: '108', close: '111', volume: '1000', vwap: null, tradeCount: null },
    ]);
    const months = await resampleBars(pool, { symbol: 'RSM', interval: '1d', source: 'rs' }, '1mo');
    expect(summary(months)).toEqual([
      { ts: '2024-01-01T00:00:00.000Z', open: '100', high: '102', low: '98', close: '101', volume: '1000', vwap: null, tradeCount: null },
      { ts: '2024-02-01T00:00:00.000Z', open: '105', high: '112', low: '101', close: '111', volume: '3000', vwap: null, tradeCount: null },
    ]);
  });

  it('refuses a target it cannot cut', async () => {
    await expect(resampleBars(pool, { symbol: 'RSM', interval: '1m', source: 'rs' }, '1m')).rejects.toBeInstanceOf(UserFacingError);
  });
});

describe('reference data lookups', () => {
  beforeAll(async () => {
    await symbols.add({ symbol: 'REF' });
    await symbols.add({ symbol: 'REF2' });
    await admin.query(
      `INSERT INTO data_ingestion.key_statistics (symbol, as_of, market_cap, pe_ratio, eps, dividend_yield, beta, fifty_two_week_high, fifty_two_week_low, average_volume, shares_outstanding) VALUES
        ('REF', '2024-01-10', 3000000000000, 25.5, 6.1, 0.0051, 1.2, 199.62, 164.08, 55000000, 15500000000),
        ('REF', '2024-03-15', 2800000000000.12345678, 28.123, 6.2, NULL, 1.25, 199.62, 165.5, 60000000, 15400000000),
        ('REF', '2024-06-30', 3300000000000, 33.3, 6.4, 0.0044, NULL, 220.2, 165.5, 58000000, 15300000000),
        ('REF2', '2024-12-31', 1, 1, 1, 0, 1, 2, 1, 1, 1)`,
    );
    await admin.query(
      `INSERT INTO data_ingestion.institutional_holders (symbol, report_date, holder, shares, value, pct_held) VALUES
        ('REF', '2024-03-31', 'Vanguard', 1300, 200000, 0.08),
        ('REF', '2024-03-31', 'BlackRock', 1200, 180000, 0.07),
        ('REF', '2024-06-30', 'Vanguard', 900, 150000.5, 0.0876),
        ('REF', '2024-06-30', 'BlackRock', 1000, 170000, 0.0912),
        ('REF', '2024-06-30', 'Alpha Capital', 1000, NULL, NULL),
        ('REF', '2024-06-30', 'State Street', 50.5, 8000, 0.005),
        ('REF', '2024-06-30', 'Geode', 12000, 1900000, 0.5),
        ('REF2', '2024-09-30', 'Someone', 5, 5, 0.1)`,
    );
  });

  it('key statistics: the snapshot of the day, else the latest on or before it, else none', async () => {
    const onTheDay = await referenceDataRepository.keyStatistics(pool, 'REF', '2024-03-15');
    expect(onTheDay).toMatchObject({ symbol: 'REF', asOf: '2024-03-15' });
    expect(canonical(onTheDay!.peRatio)).toBe('28.123');
    expect(canonical(onTheDay!.marketCap)).toBe('2800000000000.12345678');
    expect(onTheDay!.dividendYield).toBeNull();
    expect(canonical(onTheDay!.fiftyTwoWeekLow)).toBe('165.5');

    expect(await referenceDataRepository.keyStatistics(pool, 'REF', '2024-06-29')).toMatchObject({ asOf: '2024-03-15' });
    const first = await referenceDataRepository.keyStatistics(pool, 'REF', '2024-03-14');
    expect(first).toMatchObject({ asOf: '2024-01-10' });
    expect(canonical(first!.dividendYield)).toBe('0.0051');
    expect(canonical(first!.sharesOutstanding)).toBe('15500000000');
    expect(await referenceDataRepository.keyStatistics(pool, 'REF', '2024-01-09')).toBeUndefined();

    const latest = await referenceDataRepository.keyStatistics(pool, 'REF');
    expect(latest).toMatchObject({ symbol: 'REF', asOf: '2024-06-30', beta: null, ingestionRunId: null });
    expect(canonical(latest!.peRatio)).toBe('33.3');
    expect(await referenceDataRepository.keyStatistics(pool, 'NOSTATS')).toBeUndefined();
  });

  it("holders: the latest report's only, with exact values", async () => {
    const holders = await referenceDataRepository.institutionalHolders(pool, 'REF');
    expect(holders.map((holder) => `${holder.reportDate} ${holder.holder} ${canonical(holder.shares)}`).sort()).toEqual([
      '2024-06-30 Alpha Capital 1000',
      '2024-06-30 BlackRock 1000',
      '2024-06-30 Geode 12000',
      '2024-06-30 State Street 50.5',
      '2024-06-30 Vanguard 900',
    ]);
    const vanguard = holders.find((holder) => holder.holder === 'Vanguard')!;
    expect(vanguard).toMatchObject({ symbol: 'REF', reportDate: '2024-06-30', ingestionRunId: null });
    expect(canonical(vanguard.value)).toBe('150000.5');
    expect(canonical(vanguard.pctHeld)).toBe('0.0876');
    expect(holders.find((holder) => holder.holder === 'Alpha Capital')).toMatchObject({ value: null, pctHeld: null });
  });

  it('holders: largest holding first by number of shares (12000 > 1000 > 900 > 50.5), ties by name', async () => {
    // Share counts of different lengths: ordered as text, "900" and "50.5" would come before "12000".
    const holders = await referenceDataRepository.institutionalHolders(pool, 'REF');
    expect(holders.map((holder) => [holder.holder, canonical(holder.shares)])).toEqual([
      ['Geode', '12000'],
      ['Alpha Capital', '1000'],
      ['BlackRock', '1000'],
      ['Vanguard', '900'],
      ['State Street', '50.5'],
    ]);
  });

  it('holders of the latest report on or before a date; none before the first', async () => {
    const march = await referenceDataRepository.institutionalHolders(pool, 'REF', '2024-06-29');
    expect(march.map((holder) => [holder.reportDate, holder.holder])).toEqual([
      ['2024-03-31', 'Vanguard'],
      ['2024-03-31', 'BlackRock'],
    ]);
    expect((await referenceDataRepository.institutionalHolders(pool, 'REF', '2024-06-30')).map((holder) => holder.reportDate)).toEqual(Array(5).fill('2024-06-30'));
    expect(await referenceDataRepository.institutionalHolders(pool, 'REF', '2024-03-30')).toEqual([]);
    expect(await referenceDataRepository.institutionalHolders(pool, 'NOHOLDERS')).toEqual([]);
  });
});
