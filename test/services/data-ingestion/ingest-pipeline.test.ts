import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestBars } from '../../../src/services/data-ingestion/ingest-pipeline.ts';
import { qualityLogRepository } from '../../../src/services/data-ingestion/quality-log-repository.ts';
import { ingestionRunRepository } from '../../../src/services/data-ingestion/ingestion-run-repository.ts';
import { SyntheticProvider } from '../../../src/services/data-ingestion/providers/synthetic-provider.ts';
import { SymbolService } from '../../../src/services/data-ingestion/symbol-service.ts';
import { dailyBar, memoryProvider } from '../../support/bar-rows.ts';
import { type IngestionDatabase, openIngestionDatabase } from '../../support/ingestion-database.ts';

let ingestion: IngestionDatabase;
let pool: pg.Pool;
let admin: pg.Client;
let symbols: SymbolService;

beforeAll(async () => {
  ingestion = await openIngestionDatabase('ingest');
  ({ pool, admin, symbols } = ingestion);
});
afterAll(() => ingestion?.close());

const count = (sql: string, values: unknown[] = []) => ingestion.count(sql, values);

async function seriesStatus(symbol: string, source: string, interval: string) {
  const { rows } = await admin.query(
    'SELECT watermark, row_count::int AS "rowCount", last_success_at AS "lastSuccessAt", last_failure_at AS "lastFailureAt", last_error AS "lastError" FROM data_ingestion.symbol_data_status WHERE symbol = $1 AND source = $2 AND interval = $3',
    [symbol, source, interval],
  );
  return rows[0];
}

describe('synthetic bars: fast path, merge path, watermarks', () => {
  const start = new Date('2024-03-01T00:00:00Z');
  const synthetic = (seed = 7) => new SyntheticProvider({ symbolCount: 3, interval: '1h', bars: 1000, seed, start });

  it('loads a fresh range straight into market_data and moves each watermark to its last bar', async () => {
    const summary = await ingestBars(pool, { provider: synthetic(), interval: '1h', source: 'synth', createSymbols: true, batchSize: 700 });
    expect(summary).toMatchObject({ status: 'succeeded', read: 3000, inserted: 3000, updated: 0, unchanged: 0, rejected: 0, batches: { direct: 5, merge: 0 } });
    expect(summary.createdSymbols.sort()).toEqual(['SYN0001', 'SYN0002', 'SYN0003']);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE source = 'synth'")).toBe(3000);
    const lastBar = new Date(start.getTime() + 999 * 3600_000);
    expect(await seriesStatus('SYN0002', 'synth', '1h')).toMatchObject({ watermark: lastBar, rowCount: 1000, lastFailureAt: null });
    const run = await ingestionRunRepository.find(pool, summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', read: 3000, inserted: 3000, rejected: 0 });
    // 1000 hourly bars from March 1st span March and April 2024: both months got a partition.
    expect(await count("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'data_ingestion.market_data'::regclass AND inhrelid::regclass::text IN ('data_ingestion.market_data_p202403', 'data_ingestion.market_data_p202404')")).toBe(2);
    expect(await count('SELECT count(*) AS n FROM data_ingestion.market_data_default')).toBe(0);
  });

  it('re-loading the same bars merges, writes nothing and keeps timestamps', async () => {
    const before = await admin.query("SELECT max(updated_at) AS u, min(created_at) AS c FROM data_ingestion.market_data WHERE source = 'synth'");
    const summary = await ingestBars(pool, { provider: synthetic(), interval: '1h', source: 'synth', batchSize: 700 });
    expect(summary).toMatchObject({ status: 'succeeded', read: 3000, inserted: 0, updated: 0, unchanged: 3000, batches: { direct: 0, merge: 5 } });
    const after = await admin.query("SELECT max(updated_at) AS u, min(created_at) AS c FROM data_ingestion.market_data WHERE source = 'synth'");
    expect(after.rows[0]).toEqual(before.rows[0]);
  });

  it('re-loading with some bars changed updates exactly those, keeps created_at and sets updated_at', async () => {
    const changedLines = new Set([5, 17, 1500, 2999]);
    const base = synthetic();
    const changed = {
      kind: 'changed',
      async *rows() {
        for await (const row of base.rows()) {
          if (changedLines.has(row.line)) yield { ...row, fields: { ...row.fields, volume: '123456789' } };
          else yield row;
        }
      },
    };
    const summary = await ingestBars(pool, { provider: changed, interval: '1h', source: 'synth' });
    expect(summary).toMatchObject({ error: null, inserted: 0, updated: 4, unchanged: 2996 });
    const { rows } = await admin.query("SELECT created_at < updated_at AS touched FROM data_ingestion.market_data WHERE source = 'synth' AND volume = 123456789");
    expect(rows).toHaveLength(4);
    expect(rows.every((row) => row.touched)).toBe(true);
  });

  it('a longer series loads its overlap by merge and the new range after the watermark', async () => {
    const longer = new SyntheticProvider({ symbolCount: 3, interval: '1h', bars: 1200, seed: 7, start });
    const summary = await ingestBars(pool, { provider: longer, interval: '1h', source: 'synth', batchSize: 1200 });
    expect(summary).toMatchObject({ error: null, inserted: 600, updated: 4, unchanged: 2996 });
    expect(await seriesStatus('SYN0003', 'synth', '1h')).toMatchObject({ watermark: new Date(start.getTime() + 1199 * 3600_000), rowCount: 1200 });
  });

  it('falls back to the merge when rows exist after the watermark (loaded by other means)', async () => {
    await admin.query("INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source) VALUES ('SYN0001', '1h', '2024-04-25T00:00:00Z', 1, 1, 1, 1, 1, 'synth')");
    const later = new SyntheticProvider({ symbols: ['SYN0001'], interval: '1h', bars: 48, seed: 9, start: new Date('2024-04-24T00:00:00Z') });
    const summary = await ingestBars(pool, { provider: later, interval: '1h', source: 'synth' });
    expect(summary).toMatchObject({ error: null, status: 'succeeded', inserted: 47, updated: 1, batches: { direct: 0, merge: 1 } });
  });

  it('creates a month that already has rows in the default partition, moving them into it', async () => {
    await admin.query("INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source) VALUES ('SYN0002', '1h', '2025-06-02T10:00:00Z', 1, 1, 1, 1, 1, 'synth')");
    expect(await count('SELECT count(*) AS n FROM data_ingestion.market_data_default')).toBe(1);
    const june = new SyntheticProvider({ symbols: ['SYN0002'], interval: '1h', bars: 48, seed: 9, start: new Date('2025-06-01T00:00:00Z') });
    const summary = await ingestBars(pool, { provider: june, interval: '1h', source: 'synth' });
    expect(summary).toMatchObject({ error: null, status: 'succeeded', inserted: 47, updated: 1 });
    expect(await count('SELECT count(*) AS n FROM data_ingestion.market_data_default')).toBe(0);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data_p202506 WHERE symbol = 'SYN0002'")).toBe(48);
  });
});

describe('validation: a failing row is logged with its rule and line, the rest loads', () => {
  it('rejects each rule once and loads the valid rows', async () => {
    await symbols.add({ symbol: 'VAL' });
    const good = dailyBar('VAL', '2024-01-02');
    const rows = [
      good, // line 2
      { ...dailyBar('VAL', '2024-01-03'), open: '0' }, // price_positive
      { ...dailyBar('VAL', '2024-01-04'), high: '90' }, // high_range
      { ...dailyBar('VAL', '2024-01-05'), low: '100.5' }, // low_range
      { ...dailyBar('VAL', '2024-01-08'), volume: '-5' }, // volume_negative
      { ...dailyBar('VAL', '2024-01-09'), volume: '10.5' }, // volume_integer
      { ...dailyBar('VAL', '2024-01-10'), close: 'abc' }, // number_format
      dailyBar('VAL', '2024-01-02'), // duplicate_key of line 2
      dailyBar('VAL', '2099-01-02'), // timestamp_future
      { ...dailyBar('VAL', '2024-01-11'), timestamp: '2024-01-11T15:30:00Z' }, // timestamp_alignment
      { ...dailyBar('VAL', '2024-01-11'), timestamp: '2024-13-45' }, // timestamp_format
      dailyBar('NOPE', '2024-01-02'), // unknown_symbol
      dailyBar('X'.repeat(200), '2024-01-02'), // symbol_format
      { ...dailyBar('VAL', '2024-01-12'), volume: undefined }, // missing_field
      { line: 16, raw: 'VAL,2024-01-15,1,2', problem: { rule: 'column_count', detail: 'line 16 has 4 fields, the header has 7' } },
      dailyBar('VAL', '2024-01-16', 101), // line 17, valid
    ];
    const summary = await ingestBars(pool, { provider: memoryProvider(rows), interval: '1d', source: 'checks', now: () => Date.parse('2025-01-01T00:00:00Z') });
    expect(summary).toMatchObject({ status: 'partial', read: 16, inserted: 2, rejected: 14 });
    const logs = await qualityLogRepository.forRun(pool, summary.runId);
    expect(logs.map((log) => [log.lineNumber, log.rule])).toEqual([
      [3, 'price_positive'],
      [4, 'high_range'],
      [5, 'low_range'],
      [6, 'volume_negative'],
      [7, 'volume_integer'],
      [8, 'number_format'],
      [9, 'duplicate_key'],
      [10, 'timestamp_future'],
      [11, 'timestamp_alignment'],
      [12, 'timestamp_format'],
      [13, 'unknown_symbol'],
      [14, 'symbol_format'],
      [15, 'missing_field'],
      [16, 'column_count'],
    ]);
    expect(logs.every((log) => log.severity === 'error' && log.detail.startsWith(`line ${log.lineNumber}:`))).toBe(true);
    expect(logs.find((log) => log.rule === 'symbol_format')).toMatchObject({ symbol: 'X'.repeat(64) });
    expect(logs.find((log) => log.rule === 'high_range')?.rawInput).toContain('"high":"90"');
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol = 'VAL'")).toBe(2);
  });

  it('a run whose every row is rejected fails and loads nothing', async () => {
    const summary = await ingestBars(pool, { provider: memoryProvider([dailyBar('GHOST', '2024-01-02'), dailyBar('GHOST', '2024-01-03')]), interval: '1d', source: 'ghost' });
    expect(summary).toMatchObject({ status: 'failed', read: 2, rejected: 2, inserted: 0, rejectedByRule: { unknown_symbol: 2 } });
    expect(summary.error).toMatch(/every row was rejected/);
    expect(await ingestionRunRepository.find(pool, summary.runId)).toMatchObject({ status: 'failed', rejected: 2 });
  });

  it('an empty input is a successful run with nothing to do', async () => {
    const summary = await ingestBars(pool, { provider: memoryProvider([]), interval: '1d', source: 'empty' });
    expect(summary).toMatchObject({ status: 'succeeded', read: 0, inserted: 0, rejected: 0 });
  });
});

describe('a database failure mid-load', () => {
  it('leaves nothing of the failed batch, keeps the watermark and records the failure', async () => {
    await symbols.add({ symbol: 'OKAY' });
    await symbols.add({ symbol: 'BOOM' });
    // A trigger stands in for any server-side failure (disk full, killed connection) on BOOM's rows.
    await admin.query(`CREATE FUNCTION data_ingestion.test_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.symbol = 'BOOM' AND NEW.ts >= '2024-02-01' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$`);
    await admin.query('CREATE TRIGGER test_boom BEFORE INSERT ON data_ingestion.market_data FOR EACH ROW EXECUTE FUNCTION data_ingestion.test_boom()');
    try {
      const first = await ingestBars(pool, { provider: memoryProvider([dailyBar('BOOM', '2024-01-02'), dailyBar('OKAY', '2024-01-02')]), interval: '1d', source: 'boom' });
      expect(first.status).toBe('succeeded');
      const rows = [
        dailyBar('OKAY', '2024-01-03'),
        dailyBar('BOOM', '2024-01-03'), // batch 1 (size 2): commits
        dailyBar('OKAY', '2024-02-05'),
        { ...dailyBar('OKAY', '2024-02-06'), high: '1' }, // rejected in the failing batch
        dailyBar('BOOM', '2024-02-05'), // batch 2: fails
        dailyBar('OKAY', '2024-02-07'),
        dailyBar('OKAY', '2024-02-08'), // never read
      ];
      const summary = await ingestBars(pool, { provider: memoryProvider(rows), interval: '1d', source: 'boom', batchSize: 2 });
      expect(summary.status).toBe('failed');
      expect(summary.error).toMatch(/disk on fire/);
      expect(summary.inserted).toBe(2);
      expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE source = 'boom' AND ts >= '2024-02-01'")).toBe(0);
      expect(await seriesStatus('OKAY', 'boom', '1d')).toMatchObject({ watermark: new Date('2024-01-03T00:00:00Z'), rowCount: 2, lastError: expect.stringMatching(/disk on fire/) });
      expect(await seriesStatus('BOOM', 'boom', '1d')).toMatchObject({ watermark: new Date('2024-01-03T00:00:00Z'), lastError: expect.stringMatching(/disk on fire/) });
      const run = await ingestionRunRepository.find(pool, summary.runId);
      expect(run).toMatchObject({ status: 'failed', inserted: 2, rejected: 1 });
      expect((await qualityLogRepository.forRun(pool, summary.runId)).map((log) => [log.lineNumber, log.rule])).toEqual([[5, 'high_range']]);
    } finally {
      await admin.query('DROP TRIGGER test_boom ON data_ingestion.market_data; DROP FUNCTION data_ingestion.test_boom()');
    }
  });
});

describe('concurrent loaders', () => {
  it('load the same new month at once: both succeed, one partition, every bar once', async () => {
    const start = new Date('2023-07-01T00:00:00Z');
    const loads = [1, 2, 3, 4].map((seed) =>
      ingestBars(pool, {
        provider: new SyntheticProvider({ symbols: ['CONA', 'CONB'], interval: '5m', bars: 2000, seed, start }),
        interval: '5m',
        source: `concurrent${seed % 2}`,
        createSymbols: true,
        batchSize: 500,
      }),
    );
    const summaries = await Promise.all(loads);
    expect(summaries.map((summary) => summary.error ?? summary.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    // Two loaders per source wrote the same keys: one inserted, the other merged.
    const bySource = await admin.query<{ source: string; n: string }>("SELECT source, count(*) AS n FROM data_ingestion.market_data WHERE symbol IN ('CONA', 'CONB') GROUP BY source ORDER BY source");
    expect(bySource.rows).toEqual([{ source: 'concurrent0', n: '4000' }, { source: 'concurrent1', n: '4000' }]);
    const totalInserted = summaries.reduce((sum, summary) => sum + summary.inserted, 0);
    expect(totalInserted).toBe(8000);
    expect(await count("SELECT count(*) AS n FROM pg_class WHERE relname = 'market_data_p202307'")).toBe(1);
  });
});
