import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/db/setup.ts';
import { realisticCsv } from '../support/realistic-csv.ts';
import { runCli } from '../support/run-cli.ts';
import { clientToolEnv } from '../support/schema-dump.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';

const run = promisify(execFile);

let db: TestDatabases;
let admin: pg.Client;
const dir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-ingest-cli-'));

beforeAll(async () => {
  db = await cloneTemplateDatabases('ingestcli');
  admin = await connectAdmin(db.config, db.config.trading.database);
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
const tradedb = (...args: string[]) => runCli(args, db.env);

function file(name: string, content: string): string {
  const filePath = path.join(dir, name);
  writeFileSync(filePath, content);
  return filePath;
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(sql, values);
  return Number(rows[0]!.n);
}

/** The one JSON object an `ingest ... --json` run prints. */
function summaryOf(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('tradedb symbols', () => {
  it('add, list, show', async () => {
    const added = await tradedb('symbols', 'add', 'aapl', '--name', 'Apple Inc.', '--exchange', 'NASDAQ');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout.trim()).toBe('added AAPL (equity, USD)');
    const etf = await tradedb('symbols', 'add', 'spy', '--asset-class', 'etf', '--currency', 'usd', '--name', 'SPDR S&P 500');
    expect(etf.code, etf.stderr).toBe(0);
    expect(etf.stdout.trim()).toBe('added SPY (etf, USD)');

    const list = await tradedb('symbols', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^SYMBOL\s+NAME\s+EXCHANGE\s+CLASS\s+CCY\s+STATUS/m);
    expect(list.stdout).toMatch(/^AAPL\s+Apple Inc\.\s+NASDAQ\s+equity\s+USD\s+active/m);
    expect(list.stdout).toMatch(/^SPY\s+SPDR S&P 500\s+.*etf\s+USD\s+active/m);

    const json = await tradedb('symbols', 'list', '--json');
    expect(JSON.parse(json.stdout).map((row: { symbol: string }) => row.symbol)).toEqual(['AAPL', 'SPY']);
    const search = await tradedb('symbols', 'list', '--search', 'apple', '--json');
    expect(JSON.parse(search.stdout).map((row: { symbol: string }) => row.symbol)).toEqual(['AAPL']);

    const show = await tradedb('symbols', 'show', 'aapl', '--json');
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ symbol: { symbol: 'AAPL', name: 'Apple Inc.', exchange: 'NASDAQ', status: 'active' }, delistings: [], series: [] });
    const showTable = await tradedb('symbols', 'show', 'AAPL');
    expect(showTable.stdout).toMatch(/^AAPL\s+Apple Inc\./m);
    expect(showTable.stdout).toContain('(none loaded)');
  });

  it('delist and relist', async () => {
    const delisted = await tradedb('symbols', 'delist', 'SPY', '--date', '2024-06-28', '--reason', 'acquired by X');
    expect(delisted.code, delisted.stderr).toBe(0);
    expect(delisted.stdout.trim()).toBe('delisted SPY');
    expect((await tradedb('symbols', 'list')).stdout).not.toMatch(/^SPY\b/m);
    expect((await tradedb('symbols', 'list', '--status', 'delisted')).stdout).toMatch(/^SPY\s+.*delisted/m);
    const shown = await tradedb('symbols', 'show', 'SPY');
    expect(shown.stdout).toMatch(/Delistings:\nDELISTED\s+RELISTED\s+REASON\n2024-06-28\s+-?\s*acquired by X/);

    const relisted = await tradedb('symbols', 'relist', 'spy', '--date', '2024-07-15');
    expect(relisted.code, relisted.stderr).toBe(0);
    expect(relisted.stdout.trim()).toBe('relisted SPY');
    const json = JSON.parse((await tradedb('symbols', 'show', 'SPY', '--json')).stdout);
    expect(json.symbol.status).toBe('active');
    expect(json.delistings).toEqual([{ symbol: 'SPY', delistedOn: '2024-06-28', reason: 'acquired by X', relistedOn: '2024-07-15' }]);
    const all = JSON.parse((await tradedb('symbols', 'list', '--status', 'all', '--json')).stdout);
    expect(all.map((row: { symbol: string; status: string }) => `${row.symbol}:${row.status}`)).toEqual(['AAPL:active', 'SPY:active']);
  });

  it('errors: exit 1, one message on stderr, no stack trace, nothing changed', async () => {
    const duplicate = await tradedb('symbols', 'add', 'AAPL');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('tradedb: Symbol AAPL already exists');
    noStackTrace(duplicate.stderr);

    const currency = await tradedb('symbols', 'add', 'NEWCO', '--currency', 'dollars');
    expect(currency.code).toBe(1);
    expect(currency.stderr).toMatch(/tradedb: Invalid symbol: currency: must be a three-letter ISO 4217 code/);
    noStackTrace(currency.stderr);

    const relist = await tradedb('symbols', 'relist', 'AAPL');
    expect(relist.code).toBe(1);
    expect(relist.stderr).toContain('tradedb: Symbol AAPL is active, not delisted.');
    noStackTrace(relist.stderr);

    const unknown = await tradedb('symbols', 'show', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('symbol NOPE is not known');
    expect(unknown.stdout).toBe('');

    const unknownDelist = await tradedb('symbols', 'delist', 'NOPE');
    expect(unknownDelist.code).toBe(1);
    expect(unknownDelist.stderr).toMatch(/Symbol NOPE is not known; add it with `tradedb symbols add NOPE`/);
    noStackTrace(unknownDelist.stderr);

    const badDate = await tradedb('symbols', 'delist', 'AAPL', '--date', '2024-13-01');
    expect(badDate.code).toBe(1);
    expect(badDate.stderr).toMatch(/Invalid delisting date/);
    noStackTrace(badDate.stderr);

    const badClass = await tradedb('symbols', 'add', 'NEWCO', '--asset-class', 'stock');
    expect(badClass.code).not.toBe(0);
    expect(badClass.stderr).toMatch(/Allowed choices are equity, etf, index/);

    expect(await count("SELECT count(*) AS n FROM data_ingestion.symbols WHERE symbol = 'NEWCO' OR symbol = 'NOPE'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.symbols WHERE symbol = 'AAPL' AND status = 'active'")).toBe(1);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.delisted_symbols WHERE symbol = 'AAPL'")).toBe(0);
  });
});

describe('tradedb ingest csv, quality', () => {
  let partialRun: number;

  it('loads a file: one JSON object with read, inserted, rejected; exit 0', async () => {
    const csv = file(
      'daily.csv',
      [
        'symbol,timestamp,open,high,low,close,volume',
        'AAPL,2024-01-02,187.15,188.44,183.885,185.64,82488700',
        'AAPL,2024-01-03,184.22,185.88,183.43,184.25,58414500',
        'AAPL,2024-01-04,182.15,183.0872,180.88,181.91,71983600',
        'AAPL,2024-01-05,181.99,179.00,180.17,181.18,62303300', // high below open: rejected (line 5)
        'AAPL,2024-01-08,182.085,185.6,181.5,185.56,59144500',
        'AAPL,2024-01-09,183.92,185.15,182.73,185.14,notanumber', // line 7
        '',
      ].join('\n'),
    );
    const result = await tradedb('ingest', 'csv', csv, '--interval', '1d', '--json');
    expect(result.code, result.stderr).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary).toMatchObject({ status: 'partial', source: 'csv', interval: '1d', read: 6, inserted: 4, updated: 0, unchanged: 0, rejected: 2, rejectedByRule: { high_range: 1, number_format: 1 }, error: null });
    partialRun = summary.runId as number;
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol = 'AAPL' AND interval = '1d' AND source = 'csv'")).toBe(4);
    const { rows } = await admin.query("SELECT open::text, high::text FROM data_ingestion.market_data WHERE symbol = 'AAPL' AND ts = '2024-01-04T00:00:00Z'");
    expect(rows).toEqual([{ open: '182.15000000', high: '183.08720000' }]);
  });

  it('quality --run N lists the line and rule of each rejected row', async () => {
    const result = await tradedb('quality', '--run', String(partialRun));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`run ${partialRun} (csv, 1d) partial: read 6, inserted 4, updated 0, unchanged 0, rejected 2`);
    expect(result.stdout).toMatch(/^LINE\s+RULE\s+SYMBOL\s+DETAIL/m);
    expect(result.stdout).toMatch(/^5\s+high_range\s+AAPL\s+line 5: high 179 is below open 181\.99/m);
    expect(result.stdout).toMatch(/^7\s+number_format\s+AAPL\s+line 7: volume "notanumber" is not a number/m);
    const json = JSON.parse((await tradedb('quality', '--run', String(partialRun), '--json')).stdout);
    expect(json.issues.map((issue: { lineNumber: number; rule: string }) => [issue.lineNumber, issue.rule])).toEqual([
      [5, 'high_range'],
      [7, 'number_format'],
    ]);
    const missing = await tradedb('quality', '--run', '999999');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('there is no ingestion run 999999');
  });

  it('a file whose every row is rejected: exit 1, status failed', async () => {
    const csv = file('ghosts.csv', 'symbol,timestamp,open,high,low,close,volume\nGHOST,2024-01-02,1,2,0.5,1.5,10\nGHOST,2024-01-03,1,2,0.5,1.5,10\n');
    const result = await tradedb('ingest', 'csv', csv, '--interval', '1d', '--json');
    expect(result.code).toBe(1);
    const summary = summaryOf(result.stdout);
    expect(summary).toMatchObject({ status: 'failed', read: 2, inserted: 0, rejected: 2, rejectedByRule: { unknown_symbol: 2 } });
    expect(summary.error).toMatch(/every row was rejected/);
    expect(await count('SELECT count(*) AS n FROM data_ingestion.ingestion_runs WHERE id = $1 AND status = $2', [summary.runId, 'failed'])).toBe(1);
  });

  it('the human summary says where the rejected rows are', async () => {
    const csv = file('one-bad.csv', 'symbol,timestamp,open,high,low,close,volume\r\nAAPL,2024-01-10,1,2,0.5,1.5,10\r\nAAPL,2024-01-11,0,2,0.5,1.5,10\r\n');
    const result = await tradedb('ingest', 'csv', csv, '--interval', '1d', '--source', 'manual');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^run \d+ partial in [\d.]+ s .*read 2, inserted 1, updated 0, unchanged 0, rejected 1$/m);
    expect(result.stdout).toMatch(/rejected by rule: price_positive 1; .*tradedb quality --run \d+/);
  });

  it('a missing file: exit 1, "Cannot read", and no ingestion run recorded', async () => {
    const runsBefore = await count('SELECT count(*) AS n FROM data_ingestion.ingestion_runs');
    const missing = path.join(dir, 'does-not-exist.csv');
    const result = await tradedb('ingest', 'csv', missing, '--interval', '1d', '--json');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Cannot read ${missing}: no such file.`);
    expect(result.stdout).toBe('');
    noStackTrace(result.stderr);
    expect(await count('SELECT count(*) AS n FROM data_ingestion.ingestion_runs')).toBe(runsBefore);
  });

  it('--interval 7m is refused by the option parser, naming the intervals', async () => {
    const runsBefore = await count('SELECT count(*) AS n FROM data_ingestion.ingestion_runs');
    const csv = file('any.csv', 'symbol,timestamp,open,high,low,close,volume\nAAPL,2024-01-12,1,2,0.5,1.5,10\n');
    for (const args of [['ingest', 'csv', csv, '--interval', '7m'], ['ingest', 'synthetic', '--interval', '7m'], ['bars', 'AAPL', '--interval', '7m']]) {
      const result = await tradedb(...args);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/option '--interval <interval>' argument '7m' is invalid\. expected one of 1m, 5m, 15m, 30m, 1h, 1d, 1wk, 1mo/);
      noStackTrace(result.stderr);
    }
    const missingInterval = await tradedb('ingest', 'csv', csv);
    expect(missingInterval.code).not.toBe(0);
    expect(missingInterval.stderr).toMatch(/required option '--interval <interval>' not specified/);
    expect(await count('SELECT count(*) AS n FROM data_ingestion.ingestion_runs')).toBe(runsBefore);
  });
});

describe('tradedb ingest synthetic, bars', () => {
  const synthetic = ['ingest', 'synthetic', '--symbols', '2', '--bars', '50', '--interval', '1h', '--seed', '3', '--start', '2024-03-01T00:00:00Z', '--json'];

  it('a second identical run finds every bar unchanged', async () => {
    const first = await tradedb(...synthetic);
    expect(first.code, first.stderr).toBe(0);
    expect(summaryOf(first.stdout)).toMatchObject({ status: 'succeeded', source: 'synthetic', interval: '1h', read: 100, inserted: 100, updated: 0, unchanged: 0, rejected: 0, createdSymbols: ['SYN0001', 'SYN0002'] });
    const second = await tradedb(...synthetic);
    expect(second.code, second.stderr).toBe(0);
    expect(summaryOf(second.stdout)).toMatchObject({ status: 'succeeded', read: 100, inserted: 0, updated: 0, unchanged: 100, rejected: 0, createdSymbols: [] });
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol IN ('SYN0001', 'SYN0002') AND interval = '1h'")).toBe(100);
  });

  it('bars --format json prints one parseable line per bar', async () => {
    const result = await tradedb('bars', 'SYN0001', '--interval', '1h', '--format', 'json');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(50);
    const bars = lines.map((line) => JSON.parse(line) as { symbol: string; interval: string; ts: string; source: string });
    expect(bars.every((bar) => bar.symbol === 'SYN0001' && bar.interval === '1h' && bar.source === 'synthetic')).toBe(true);
    expect(bars[0]!.ts).toBe('2024-03-01T00:00:00Z');
    expect(bars[49]!.ts).toBe('2024-03-03T01:00:00Z');

    const csv = await tradedb('bars', 'syn0002', '--interval', '1h', '--from', '2024-03-02', '--to', '2024-03-02T03:00:00Z');
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.trim().split('\n').map((line) => line.split(',').slice(0, 3).join(','))).toEqual([
      'symbol,interval,ts',
      'SYN0002,1h,2024-03-02T00:00:00Z',
      'SYN0002,1h,2024-03-02T01:00:00Z',
      'SYN0002,1h,2024-03-02T02:00:00Z',
    ]);

    const none = await tradedb('bars', 'SYN0001', '--interval', '1d');
    expect(none.code).toBe(0);
    expect(none.stdout.trim()).toBe('symbol,interval,ts,open,high,low,close,volume,vwap,trade_count,source');
    expect(none.stderr).toContain('(no 1d bars of SYN0001 in that range)');
  });

  it('bars --latest shows the newest bar of each symbol', async () => {
    const result = await tradedb('bars', '--latest', 'SYN0001,syn0002,NOBARS', '--interval', '1h');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^SYMBOL\s+TS\s+OPEN\s+HIGH\s+LOW\s+CLOSE\s+VOLUME\s+SOURCE/m);
    expect(result.stdout).toMatch(/^SYN0001\s+2024-03-03T01:00:00\.000Z\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+\s+synthetic$/m);
    expect(result.stdout).toMatch(/^SYN0002\s+2024-03-03T01:00:00\.000Z\s/m);
    expect(result.stdout).not.toContain('NOBARS');

    const json = await tradedb('bars', '--latest', 'SYN0001,SYN0002', '--interval', '1h', '--format', 'json');
    const bars = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(bars.map((bar: { symbol: string; ts: string }) => [bar.symbol, bar.ts])).toEqual([
      ['SYN0001', '2024-03-03T01:00:00Z'],
      ['SYN0002', '2024-03-03T01:00:00Z'],
    ]);
    // The newest bar is the one the range query ends with.
    const last = (await tradedb('bars', 'SYN0001', '--interval', '1h', '--from', '2024-03-03T01:00:00Z')).stdout.trim().split('\n')[1]!.split(',');
    expect(bars[0]).toMatchObject({ open: last[3], high: last[4], low: last[5], close: last[6], volume: last[7] });
  });

  it('bars --resample-from builds longer bars from the stored ones', async () => {
    const result = await tradedb('bars', 'SYN0001', '--interval', '1d', '--resample-from', '1h', '--format', 'json');
    expect(result.code, result.stderr).toBe(0);
    const days = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { ts: string; volume: string });
    expect(days.map((day) => day.ts)).toEqual(['2024-03-01T00:00:00Z', '2024-03-02T00:00:00Z', '2024-03-03T00:00:00Z']);
    const { rows } = await admin.query<{ day: string; volume: string }>(
      "SELECT to_char(date_trunc('day', ts, 'UTC'), 'YYYY-MM-DD') AS day, trim_scale(sum(volume))::text AS volume FROM data_ingestion.market_data WHERE symbol = 'SYN0001' AND interval = '1h' GROUP BY 1 ORDER BY 1",
    );
    expect(days.map((day) => day.volume)).toEqual(rows.map((row) => row.volume));
  });

  it('bars without a symbol is an error naming what to do', async () => {
    const result = await tradedb('bars', '--interval', '1h');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Name a symbol');
    noStackTrace(result.stderr);
  });
});

describe('tradedb ingest csv loads exactly what psql reads from the same file', () => {
  it('a realistic 2,000-row file: the same rows as psql \\copy and SQL casts, in both directions', async () => {
    const generated = realisticCsv({ perSymbol: 400, start: new Date('2024-03-25T00:00:00Z') });
    expect(generated.rows).toBe(2000);
    const csvPath = file('realistic.csv', generated.text);

    const known = (await admin.query<{ symbol: string }>('SELECT symbol FROM data_ingestion.symbols WHERE symbol = ANY($1)', [generated.symbols])).rows.map((row) => row.symbol);
    const result = await tradedb('ingest', 'csv', csvPath, '--interval', '1h', '--source', 'realistic', '--create-symbols', '--json');
    expect(result.code, result.stderr).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary).toMatchObject({ status: 'succeeded', read: 2000, inserted: 2000, rejected: 0, error: null });
    // --create-symbols adds those not known yet (AAPL, when the tests above ran).
    expect((summary.createdSymbols as string[]).sort()).toEqual(generated.symbols.filter((symbol) => !known.includes(symbol)).sort());

    // The same file through the real psql, into text columns, converted by PostgreSQL itself.
    await admin.query('CREATE SCHEMA IF NOT EXISTS scratch_psql; DROP TABLE IF EXISTS scratch_psql.raw_bars');
    await admin.query('CREATE TABLE scratch_psql.raw_bars (symbol text, ts text, open text, high text, low text, close text, volume text, vwap text, trade_count text)');
    const copy = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', db.config.trading.database, '-c', `\\copy scratch_psql.raw_bars FROM '${csvPath}' WITH (FORMAT csv, HEADER true)`], {
      env: clientToolEnv(db.config),
    });
    expect(copy.stdout.trim()).toBe('COPY 2000');

    const psqlRows = `SELECT btrim(symbol) AS symbol, '1h'::text AS interval, ts::timestamptz AS ts,
             open::numeric(20,8) AS open, high::numeric(20,8) AS high, low::numeric(20,8) AS low, close::numeric(20,8) AS close,
             volume::numeric(28,8) AS volume, nullif(btrim(vwap), '')::numeric(20,8) AS vwap, nullif(btrim(trade_count), '')::integer AS trade_count
        FROM scratch_psql.raw_bars`;
    const appRows = `SELECT symbol, interval, ts, open, high, low, close, volume, vwap, trade_count
        FROM data_ingestion.market_data WHERE source = 'realistic'`;
    expect(await count(`SELECT count(*) AS n FROM (${psqlRows}) AS p`)).toBe(2000);
    expect(await count(`SELECT count(*) AS n FROM (${appRows}) AS a`)).toBe(2000);
    const onlyApp = await admin.query(`${appRows} EXCEPT ${psqlRows} ORDER BY 1, 3 LIMIT 5`);
    const onlyPsql = await admin.query(`${psqlRows} EXCEPT ${appRows} ORDER BY 1, 3 LIMIT 5`);
    expect(onlyApp.rows).toEqual([]);
    expect(onlyPsql.rows).toEqual([]);

    // The file really exercised what it claims to: offsets, rounding, empty optional fields.
    expect(await count("SELECT count(*) AS n FROM scratch_psql.raw_bars WHERE ts LIKE '%-05:00'")).toBeGreaterThan(100);
    expect(await count("SELECT count(*) AS n FROM scratch_psql.raw_bars WHERE ts LIKE '%+05:30'")).toBeGreaterThan(100);
    expect(await count("SELECT count(*) AS n FROM scratch_psql.raw_bars WHERE open ~ '\\.\\d{10}'")).toBeGreaterThan(100);
    expect(await count('SELECT count(*) AS n FROM scratch_psql.raw_bars WHERE vwap IS NULL')).toBeGreaterThan(50);
    expect(await count("SELECT count(*) AS n FROM scratch_psql.raw_bars WHERE vwap = ''")).toBeGreaterThan(50);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE source = 'realistic' AND vwap IS NOT NULL AND trade_count IS NULL")).toBeGreaterThan(100);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE source = 'realistic' AND volume = 12345678901234567890")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE source = 'realistic' AND extract(minute FROM ts) = 30")).toBe(400);

    // Loading the file again changes nothing.
    const again = await tradedb('ingest', 'csv', csvPath, '--interval', '1h', '--source', 'realistic', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(summaryOf(again.stdout)).toMatchObject({ status: 'succeeded', read: 2000, inserted: 0, updated: 0, unchanged: 2000, rejected: 0 });
  });
});
