import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPools, type Pools } from '../../../src/db/pools.ts';
import { ingestBars } from '../../../src/services/data-ingestion/ingest-pipeline.ts';
import { qualityLogRepository } from '../../../src/services/data-ingestion/quality-log-repository.ts';
import { CsvProvider, type CsvProviderOptions } from '../../../src/services/data-ingestion/providers/csv-provider.ts';
import { SymbolService } from '../../../src/services/data-ingestion/symbol-service.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../../support/test-database.ts';

let db: TestDatabases;
let pools: Pools;
let pool: pg.Pool;
const dir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-bad-input-'));
const HEADER = 'symbol,timestamp,open,high,low,close,volume';

beforeAll(async () => {
  db = await cloneTemplateDatabases('badinput');
  pools = createPools(db.config);
  pool = pools.services.data_ingestion;
  const symbols = new SymbolService(pool);
  for (const symbol of ['AAA', 'BBB']) await symbols.add({ symbol });
});
afterAll(async () => {
  await pools?.close();
  await db?.drop();
});

function file(name: string, content: string | Buffer): string {
  const filePath = path.join(dir, name);
  writeFileSync(filePath, content);
  return filePath;
}

/** Ingests a CSV file and returns the run's summary and its logged rejections as [line, rule]. */
async function ingestCsv(options: CsvProviderOptions) {
  const summary = await ingestBars(pool, { provider: new CsvProvider(options), interval: '1d', source: `bad-${path.basename(options.path).replace(/[^a-z0-9]/gi, '')}` });
  const logs = await qualityLogRepository.forRun(pool, summary.runId);
  return { summary, logged: logs.map((log) => [log.lineNumber, log.rule]), logs };
}

describe('bad rows: each reported with its line, counted, logged; the rest loads', () => {
  it('numbers, dates, extra columns, negative volume, high < low, unknown and 200-character symbols, a last line cut short', async () => {
    const lines = [
      HEADER,
      'AAA,2024-01-02,10,11,9,10.5,100', // 2 ok
      'AAA,2024-01-03,ten,11,9,10.5,100', // 3 number_format
      'AAA,2024-01-32,10,11,9,10.5,100', // 4 timestamp_format
      'AAA,2024-01-04,10,11,9,10.5,100,extra', // 5 column_count
      'AAA,2024-01-05,10,11,9,10.5,-100', // 6 volume_negative
      'AAA,2024-01-08,10,8,9,10.5,100', // 7 high_range (high < low)
      'ZZZ,2024-01-02,10,11,9,10.5,100', // 8 unknown_symbol
      `${'S'.repeat(200)},2024-01-02,10,11,9,10.5,100`, // 9 symbol_format
      'BBB,2024-01-02,10,11,9,10.5,100', // 10 ok
      'BBB,2024-01-03,10,11', // 11 cut short, no newline at the end
    ];
    const { summary, logged } = await ingestCsv({ path: file('mixed.csv', lines.join('\n')) });
    expect(logged).toEqual([
      [3, 'number_format'],
      [4, 'timestamp_format'],
      [5, 'column_count'],
      [6, 'volume_negative'],
      [7, 'high_range'],
      [8, 'unknown_symbol'],
      [9, 'symbol_format'],
      [11, 'truncated_line'],
    ]);
    expect(summary).toMatchObject({ status: 'partial', read: 10, inserted: 2, rejected: 8 });
  });

  it('a header without the volume column rejects the file at line 1 and loads nothing', async () => {
    const { summary, logged } = await ingestCsv({ path: file('missing.csv', 'symbol,timestamp,open,high,low,close\nAAA,2024-02-01,1,2,1,2\n') });
    expect(logged).toEqual([[1, 'missing_columns']]);
    expect(summary).toMatchObject({ status: 'failed', inserted: 0 });
  });

  it('a wrong delimiter is named, with the one that would work', async () => {
    const { summary, logs } = await ingestCsv({ path: file('semicolon.csv', `${HEADER.replaceAll(',', ';')}\nAAA;2024-02-01;1;2;1;2;5\n`), delimiter: ',' });
    expect(logs.map((log) => [log.lineNumber, log.rule])).toEqual([[1, 'delimiter']]);
    expect(logs[0]!.detail).toContain(';');
    expect(summary.status).toBe('failed');
  });

  it('bytes that are not UTF-8 are reported on their line', async () => {
    const latin1 = Buffer.concat([Buffer.from(`${HEADER}\nAAA,2024-02-05,1,2,1,2,5\n`), Buffer.from('AAA,2024-02-06,1,2,1,2,5 caf\xe9\n', 'latin1'), Buffer.from('AAA,2024-02-07,1,2,1,2,5\n')]);
    const { summary, logged } = await ingestCsv({ path: file('latin1.csv', latin1) });
    expect(logged).toEqual([[3, 'encoding']]);
    expect(summary).toMatchObject({ inserted: 2, rejected: 1 });
  });

  it('an empty file is one rejected "row" and a failed run', async () => {
    const { summary, logged } = await ingestCsv({ path: file('empty.csv', '') });
    expect(logged).toEqual([[1, 'empty_input']]);
    expect(summary).toMatchObject({ status: 'failed', inserted: 0, rejected: 1 });
  });

  it('a gzip file loads like the plain one', async () => {
    const content = `${HEADER}\nBBB,2024-03-01,1,2,1,2,5\nBBB,2024-03-04,2,3,1.5,2.5,6\n`;
    const { summary, logged } = await ingestCsv({ path: file('bars.csv.gz', gzipSync(content)) });
    expect(logged).toEqual([]);
    expect(summary).toMatchObject({ status: 'succeeded', inserted: 2 });
  });
});
