import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientPrivilegeError, UserFacingError } from '../../../src/db/errors.ts';
import { withTransaction } from '../../../src/db/transaction.ts';
import { ingestBars } from '../../../src/services/data-ingestion/ingest-pipeline.ts';
import type { Interval } from '../../../src/services/data-ingestion/interval.ts';
import { SymbolService, SymbolStateError, UnknownSymbolError } from '../../../src/services/data-ingestion/symbol-service.ts';
import { dailyBar, memoryProvider } from '../../support/bar-rows.ts';
import { type IngestionDatabase, openIngestionDatabase } from '../../support/ingestion-database.ts';

let ingestion: IngestionDatabase;
let pool: pg.Pool;
let admin: pg.Client;
let symbols: SymbolService;

beforeAll(async () => {
  ingestion = await openIngestionDatabase('symsvc');
  ({ pool, admin, symbols } = ingestion);
});
afterAll(() => ingestion?.close());

const count = (sql: string, values: unknown[] = []) => ingestion.count(sql, values);

async function statusOf(symbol: string): Promise<string | undefined> {
  const { rows } = await admin.query<{ status: string }>('SELECT status FROM data_ingestion.symbols WHERE symbol = $1', [symbol]);
  return rows[0]?.status;
}

async function historyOf(symbol: string) {
  const { rows } = await admin.query(
    'SELECT delisted_on::text AS "delistedOn", reason, relisted_on::text AS "relistedOn" FROM data_ingestion.delisted_symbols WHERE symbol = $1 ORDER BY delisted_on',
    [symbol],
  );
  return rows;
}

/** Awaits `promise`, expecting it to reject; returns the error. */
async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** Loads a few daily bars of `symbol` (which must exist) and returns how many there are. */
async function loadDailyBars(symbol: string, dates: string[], source = 'test'): Promise<number> {
  const summary = await ingestBars(pool, { provider: memoryProvider(dates.map((date) => dailyBar(symbol, date))), interval: '1d', source });
  expect(summary).toMatchObject({ status: 'succeeded', inserted: dates.length });
  return count('SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol = $1', [symbol]);
}

describe('add', () => {
  it('trims and upper-cases the symbol, upper-cases the currency and fills the defaults', async () => {
    const row = await symbols.add({ symbol: '  brk-b ', name: 'Berkshire Hathaway B', exchange: 'NYSE' });
    expect(row).toMatchObject({ symbol: 'BRK-B', name: 'Berkshire Hathaway B', exchange: 'NYSE', assetClass: 'equity', currency: 'USD', status: 'active' });
    expect(row.createdAt).toBeInstanceOf(Date);
    const fx = await symbols.add({ symbol: 'eurusd=x', assetClass: 'fx', currency: 'chf' });
    expect(fx).toMatchObject({ symbol: 'EURUSD=X', assetClass: 'fx', currency: 'CHF', name: null, exchange: null });
    expect(await statusOf('EURUSD=X')).toBe('active');
  });

  it('refuses a symbol that exists (in any case) with a SymbolStateError and changes nothing', async () => {
    const error = await failureOf(symbols.add({ symbol: 'Brk-B', name: 'Someone else' }));
    expect(error).toBeInstanceOf(SymbolStateError);
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/BRK-B already exists/);
    expect((await symbols.get('BRK-B'))?.name).toBe('Berkshire Hathaway B');
  });

  it('refuses a 200-character symbol with a UserFacingError naming the field', async () => {
    const error = await failureOf(symbols.add({ symbol: 'A'.repeat(200) }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error).not.toBeInstanceOf(SymbolStateError);
    expect(error.message).toMatch(/^Invalid symbol: symbol: .*200 characters/);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.symbols WHERE length(symbol) > 32")).toBe(0);
  });

  it('refuses characters a ticker cannot have', async () => {
    const error = await failureOf(symbols.add({ symbol: 'AB CD' }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/symbol: symbol "AB CD" may hold only/);
  });

  it('refuses a bad currency with a UserFacingError naming the currency field', async () => {
    for (const currency of ['US', 'U$D', 'DOLLAR']) {
      const error = await failureOf(symbols.add({ symbol: 'CURR', currency }));
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toMatch(/currency: must be a three-letter ISO 4217 code/);
      // Only the currency is at fault: the symbol field is not named ("Invalid symbol: symbol: ...").
      expect(error.message).not.toMatch(/(: |; )symbol:/);
    }
    expect(await symbols.get('CURR')).toBeUndefined();
  });

  it('names every field at fault at once', async () => {
    const error = await failureOf(symbols.add({ symbol: 'BAD SYMBOL', currency: 'X', assetClass: 'stock' }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/symbol:/);
    expect(error.message).toMatch(/currency:/);
    expect(error.message).toMatch(/assetClass:/);
  });
});

describe('update, get', () => {
  it('changes only the fields given', async () => {
    await symbols.add({ symbol: 'UPD', name: 'Update Corp', exchange: 'NASDAQ', assetClass: 'equity', currency: 'USD' });
    const afterExchange = await symbols.update('upd', { exchange: 'NYSE' });
    expect(afterExchange).toMatchObject({ symbol: 'UPD', name: 'Update Corp', exchange: 'NYSE', assetClass: 'equity', currency: 'USD', status: 'active' });
    const afterTwo = await symbols.update('UPD', { name: 'Update Holdings', currency: 'eur' });
    expect(afterTwo).toMatchObject({ name: 'Update Holdings', exchange: 'NYSE', assetClass: 'equity', currency: 'EUR' });
    const unchanged = await symbols.update('UPD', {});
    expect(unchanged).toMatchObject({ name: 'Update Holdings', exchange: 'NYSE', assetClass: 'equity', currency: 'EUR' });
    expect(await symbols.get(' upd ')).toMatchObject({ name: 'Update Holdings', exchange: 'NYSE', currency: 'EUR' });
  });

  it('an unknown symbol is an UnknownSymbolError naming it', async () => {
    const error = await failureOf(symbols.update('nosuch', { name: 'x' }));
    expect(error).toBeInstanceOf(UnknownSymbolError);
    expect((error as UnknownSymbolError).symbol).toBe('NOSUCH');
    expect(error.message).toMatch(/NOSUCH is not known/);
    expect(await symbols.get('NOSUCH')).toBeUndefined();
  });

  it('refuses a bad currency in an update and keeps the old one', async () => {
    const error = await failureOf(symbols.update('UPD', { currency: 'EURO' }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/currency/);
    expect((await symbols.get('UPD'))?.currency).toBe('EUR');
  });

  it('get returns undefined for an unknown symbol', async () => {
    expect(await symbols.get('ZZZNONE')).toBeUndefined();
  });
});

describe('search and lists', () => {
  beforeAll(async () => {
    await symbols.add({ symbol: 'SRCHA', name: 'Alpha 100% Growth' });
    await symbols.add({ symbol: 'SRCHB', name: 'Beta_Fund' });
    await symbols.add({ symbol: 'SRCHXB', name: 'Beta Fund' });
    await symbols.add({ symbol: 'AB_C', name: 'Underscore Co' });
    await symbols.add({ symbol: 'ABXC', name: 'Letter Co' });
    await symbols.add({ symbol: 'BSLASH', name: 'Back\\slash Partners' });
    await symbols.add({ symbol: 'ZETA', name: 'Holds srcha in its name' });
  });

  const tickers = (rows: { symbol: string }[]) => rows.map((row) => row.symbol);

  it('finds tickers by prefix (case-insensitive), tickers before name matches', async () => {
    expect(tickers(await symbols.search('srch'))).toEqual(['SRCHA', 'SRCHB', 'SRCHXB', 'ZETA']);
    expect(tickers(await symbols.search('  SRCHX '))).toEqual(['SRCHXB']);
    // a name match of ZETA comes after the ticker match SRCHA, whatever their alphabetical order
    expect(tickers(await symbols.search('srcha'))).toEqual(['SRCHA', 'ZETA']);
  });

  it('finds names by substring, case-insensitively', async () => {
    expect(tickers(await symbols.search('growth'))).toEqual(['SRCHA']);
    expect(tickers(await symbols.search('beta'))).toEqual(['SRCHB', 'SRCHXB']);
  });

  it('treats % and _ and \\ literally', async () => {
    expect(tickers(await symbols.search('%'))).toEqual(['SRCHA']);
    expect(tickers(await symbols.search('100%'))).toEqual(['SRCHA']);
    // No ticker starts with "_" (AB_C does not match); one name contains it.
    expect(tickers(await symbols.search('_'))).toEqual(['SRCHB']);
    expect(tickers(await symbols.search('AB_'))).toEqual(['AB_C']);
    expect(tickers(await symbols.search('a_f'))).toEqual(['SRCHB']);
    expect(tickers(await symbols.search('k\\s'))).toEqual(['BSLASH']);
  });

  it('honours the limit', async () => {
    expect(tickers(await symbols.search('srch', 2))).toEqual(['SRCHA', 'SRCHB']);
  });

  it('lists by status, ordered by symbol', async () => {
    await symbols.add({ symbol: 'GONE1' });
    await symbols.delist('GONE1', { date: '2024-01-10' });
    const active = tickers(await symbols.listActive());
    expect(active).toContain('SRCHA');
    expect(active).not.toContain('GONE1');
    expect(active).toEqual([...active].sort());
    expect(tickers(await symbols.list('delisted'))).toEqual(['GONE1']);
    const all = tickers(await symbols.list());
    expect(all).toEqual([...all].sort());
    expect(all).toEqual(expect.arrayContaining(['GONE1', 'SRCHA', 'BRK-B']));
    expect(all).toHaveLength(await count('SELECT count(*) AS n FROM data_ingestion.symbols'));
    expect(await symbols.list('suspended')).toEqual([]);
  });
});

describe('delist and relist', () => {
  let barCount: number;

  beforeAll(async () => {
    await symbols.add({ symbol: 'DLST', name: 'Delisted Inc' });
    barCount = await loadDailyBars('DLST', ['2024-06-24', '2024-06-25', '2024-06-26', '2024-06-27']);
  });

  it('delists: status delisted, a history row with date and trimmed reason, the bars stay', async () => {
    const row = await symbols.delist(' dlst', { date: '2024-06-28', reason: '  acquired by X ' });
    expect(row).toMatchObject({ symbol: 'DLST', status: 'delisted' });
    expect(await statusOf('DLST')).toBe('delisted');
    expect(await symbols.delistings('DLST')).toEqual([{ symbol: 'DLST', delistedOn: '2024-06-28', reason: 'acquired by X', relistedOn: null }]);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol = 'DLST'")).toBe(barCount);
    expect(barCount).toBe(4);
    expect((await symbols.listActive()).map((symbol) => symbol.symbol)).not.toContain('DLST');
    expect((await symbols.list('delisted')).map((symbol) => symbol.symbol)).toContain('DLST');
  });

  it('refuses to delist a delisted symbol and keeps one history row', async () => {
    const error = await failureOf(symbols.delist('DLST', { date: '2024-07-01' }));
    expect(error).toBeInstanceOf(SymbolStateError);
    expect(error.message).toMatch(/already delisted/);
    expect(await historyOf('DLST')).toHaveLength(1);
  });

  it('refuses to relist before the delisting date, changing nothing', async () => {
    const error = await failureOf(symbols.relist('DLST', { date: '2024-06-27' }));
    expect(error).toBeInstanceOf(SymbolStateError);
    expect(error.message).toMatch(/before DLST's delisting on 2024-06-28/);
    expect(await statusOf('DLST')).toBe('delisted');
    expect(await historyOf('DLST')).toEqual([{ delistedOn: '2024-06-28', reason: 'acquired by X', relistedOn: null }]);
  });

  it('relists: status active, relisted_on set, history and bars intact', async () => {
    const row = await symbols.relist('DLST', { date: '2024-09-02' });
    expect(row).toMatchObject({ symbol: 'DLST', status: 'active' });
    expect(await statusOf('DLST')).toBe('active');
    expect(await symbols.delistings('DLST')).toEqual([{ symbol: 'DLST', delistedOn: '2024-06-28', reason: 'acquired by X', relistedOn: '2024-09-02' }]);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol = 'DLST'")).toBe(barCount);
    expect((await symbols.listActive()).map((symbol) => symbol.symbol)).toContain('DLST');
  });

  it('refuses to relist an active symbol', async () => {
    const error = await failureOf(symbols.relist('DLST', { date: '2024-09-03' }));
    expect(error).toBeInstanceOf(SymbolStateError);
    expect(error.message).toMatch(/DLST is active, not delisted/);
    expect((await historyOf('DLST'))[0]).toMatchObject({ relistedOn: '2024-09-02' });
  });

  it('refuses a second delisting on or before the last relisting', async () => {
    for (const date of ['2024-09-02', '2024-08-01']) {
      const error = await failureOf(symbols.delist('DLST', { date }));
      expect(error).toBeInstanceOf(SymbolStateError);
      expect(error.message).toMatch(/must be after DLST's last relisting on 2024-09-02/);
    }
    expect(await statusOf('DLST')).toBe('active');
    expect(await historyOf('DLST')).toHaveLength(1);
  });

  it('delists again after a relisting: a second history row, the first untouched', async () => {
    await symbols.delist('DLST', { date: '2024-12-31', reason: 'bankrupt' });
    expect(await statusOf('DLST')).toBe('delisted');
    expect(await symbols.delistings('DLST')).toEqual([
      { symbol: 'DLST', delistedOn: '2024-06-28', reason: 'acquired by X', relistedOn: '2024-09-02' },
      { symbol: 'DLST', delistedOn: '2024-12-31', reason: 'bankrupt', relistedOn: null },
    ]);
    await symbols.relist('DLST', { date: '2024-12-31' }); // same day as the delisting is allowed
    expect(await statusOf('DLST')).toBe('active');
    expect((await historyOf('DLST')).map((row) => row.relistedOn)).toEqual(['2024-09-02', '2024-12-31']);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol = 'DLST'")).toBe(barCount);
  });

  it('a delisting without a reason stores null; without a date, today (UTC)', async () => {
    await symbols.add({ symbol: 'NODATE' });
    const before = new Date().toISOString().slice(0, 10);
    await symbols.delist('NODATE', { reason: '   ' });
    const after = new Date().toISOString().slice(0, 10);
    const [row] = await symbols.delistings('NODATE');
    expect(row).toMatchObject({ reason: null, relistedOn: null });
    expect([before, after]).toContain(row!.delistedOn);
  });

  it('unknown symbols are UnknownSymbolErrors', async () => {
    expect(await failureOf(symbols.delist('NOPE', { date: '2024-01-02' }))).toBeInstanceOf(UnknownSymbolError);
    expect(await failureOf(symbols.relist('NOPE', { date: '2024-01-02' }))).toBeInstanceOf(UnknownSymbolError);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.delisted_symbols WHERE symbol = 'NOPE'")).toBe(0);
  });

  it('a date that is not a date is a UserFacingError naming it; nothing changes', async () => {
    await symbols.add({ symbol: 'BADDATE' });
    for (const date of ['2024-13-01', '28.06.2024', '2024-6-1']) {
      const error = await failureOf(symbols.delist('BADDATE', { date }));
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toMatch(/^Invalid delisting date: /);
    }
    expect(await statusOf('BADDATE')).toBe('active');
    expect(await historyOf('BADDATE')).toEqual([]);
  });

  it('two concurrent delistings of one symbol: exactly one wins', async () => {
    await symbols.add({ symbol: 'RACE' });
    const outcomes = await Promise.allSettled([
      symbols.delist('RACE', { date: '2024-03-01', reason: 'first' }),
      symbols.delist('RACE', { date: '2024-03-02', reason: 'second' }),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(SymbolStateError);
    expect(await historyOf('RACE')).toHaveLength(1);
    expect(await statusOf('RACE')).toBe('delisted');
  });
});

describe('delist and relist are atomic', () => {
  it('a date the server refuses (February 30th) leaves status and history as they were', async () => {
    await symbols.add({ symbol: 'FEB30' });
    await expect(symbols.delist('FEB30', { date: '2024-02-30' })).rejects.toThrow();
    expect(await statusOf('FEB30')).toBe('active');
    expect(await historyOf('FEB30')).toEqual([]);

    await symbols.delist('FEB30', { date: '2024-02-01' });
    await expect(symbols.relist('FEB30', { date: '2024-02-30' })).rejects.toThrow();
    expect(await statusOf('FEB30')).toBe('delisted');
    expect(await historyOf('FEB30')).toEqual([{ delistedOn: '2024-02-01', reason: null, relistedOn: null }]);
  });

  it('a failure after the history row is written rolls the history row back too', async () => {
    await symbols.add({ symbol: 'ATOM' });
    await symbols.add({ symbol: 'ATOMR' });
    await symbols.delist('ATOMR', { date: '2024-05-01', reason: 'merger' });
    // The status update is the last write of both delist and relist: make it fail for these two.
    await admin.query(`CREATE FUNCTION data_ingestion.test_refuse_status() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.symbol IN ('ATOM', 'ATOMR') AND NEW.status IS DISTINCT FROM OLD.status THEN RAISE EXCEPTION 'status change refused by test'; END IF; RETURN NEW; END $$`);
    await admin.query('CREATE TRIGGER test_refuse_status BEFORE UPDATE ON data_ingestion.symbols FOR EACH ROW EXECUTE FUNCTION data_ingestion.test_refuse_status()');
    try {
      await expect(symbols.delist('ATOM', { date: '2024-05-02', reason: 'never' })).rejects.toThrow(/status change refused by test/);
      expect(await statusOf('ATOM')).toBe('active');
      expect(await historyOf('ATOM')).toEqual([]);

      await expect(symbols.relist('ATOMR', { date: '2024-06-01' })).rejects.toThrow(/status change refused by test/);
      expect(await statusOf('ATOMR')).toBe('delisted');
      expect(await historyOf('ATOMR')).toEqual([{ delistedOn: '2024-05-01', reason: 'merger', relistedOn: null }]);
    } finally {
      await admin.query('DROP TRIGGER test_refuse_status ON data_ingestion.symbols; DROP FUNCTION data_ingestion.test_refuse_status()');
    }
    // Once the obstacle is gone, the same calls succeed.
    await symbols.delist('ATOM', { date: '2024-05-02' });
    expect(await statusOf('ATOM')).toBe('delisted');
    await symbols.relist('ATOMR', { date: '2024-06-01' });
    expect(await historyOf('ATOMR')).toEqual([{ delistedOn: '2024-05-01', reason: 'merger', relistedOn: '2024-06-01' }]);
  });
});

describe('markDataStatus', () => {
  async function seriesRow(symbol: string, source: string, interval: string) {
    const { rows } = await admin.query(
      `SELECT watermark, row_count::int AS "rowCount", last_success_at AS "lastSuccessAt", last_failure_at AS "lastFailureAt", last_error AS "lastError"
         FROM data_ingestion.symbol_data_status WHERE symbol = $1 AND source = $2 AND interval = $3`,
      [symbol, source, interval],
    );
    return rows[0];
  }

  it('records a failure without touching the watermark, then a success', async () => {
    await symbols.add({ symbol: 'MDS' });
    await loadDailyBars('MDS', ['2024-04-01', '2024-04-02', '2024-04-03'], 'feed');
    const loaded = await seriesRow('MDS', 'feed', '1d');
    expect(loaded).toMatchObject({ watermark: new Date('2024-04-03T00:00:00Z'), rowCount: 3, lastFailureAt: null, lastError: null });

    await symbols.markDataStatus('mds', 'feed', '1d', { ok: false, error: 'HTTP 503 from the feed' });
    const failed = await seriesRow('MDS', 'feed', '1d');
    expect(failed).toMatchObject({ watermark: new Date('2024-04-03T00:00:00Z'), rowCount: 3, lastError: 'HTTP 503 from the feed', lastSuccessAt: loaded.lastSuccessAt });
    expect(failed.lastFailureAt).toBeInstanceOf(Date);

    await symbols.markDataStatus('MDS', 'feed', '1d', { ok: true });
    const succeeded = await seriesRow('MDS', 'feed', '1d');
    expect(succeeded).toMatchObject({ watermark: new Date('2024-04-03T00:00:00Z'), rowCount: 3, lastFailureAt: failed.lastFailureAt });
    expect(succeeded.lastSuccessAt.getTime()).toBeGreaterThanOrEqual(loaded.lastSuccessAt.getTime());

    const status = await symbols.dataStatus('MDS');
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ symbol: 'MDS', source: 'feed', interval: '1d', watermark: new Date('2024-04-03T00:00:00Z'), rowCount: 3, lastError: 'HTTP 503 from the feed' });
  });

  it('creates the status row of a series that had none, without a watermark', async () => {
    await symbols.markDataStatus('MDS', 'yahoo-stats', '1d', { ok: false, error: 'no data' });
    expect(await seriesRow('MDS', 'yahoo-stats', '1d')).toMatchObject({ watermark: null, rowCount: 0, lastSuccessAt: null, lastError: 'no data' });
    await symbols.markDataStatus('MDS', 'reference', '1wk', { ok: true });
    const row = await seriesRow('MDS', 'reference', '1wk');
    expect(row).toMatchObject({ watermark: null, rowCount: 0, lastFailureAt: null, lastError: null });
    expect(row.lastSuccessAt).toBeInstanceOf(Date);
    expect((await symbols.dataStatus('MDS')).map((series) => `${series.source}/${series.interval}`)).toEqual(['feed/1d', 'reference/1wk', 'yahoo-stats/1d']);
  });

  it('refuses an unknown symbol and an unknown interval', async () => {
    expect(await failureOf(symbols.markDataStatus('NOPE2', 'feed', '1d', { ok: true }))).toBeInstanceOf(UnknownSymbolError);
    const error = await failureOf(symbols.markDataStatus('MDS', 'feed', '7m' as Interval, { ok: true }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/7m/);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.symbol_data_status WHERE symbol = 'NOPE2' OR interval = '7m'")).toBe(0);
  });
});

describe('privileges of the data_ingestion role', () => {
  it('may not create a table in data_ingestion', async () => {
    const error = (await failureOf(pool.query('CREATE TABLE data_ingestion.sneaky (id int)'))) as Error & { code?: string };
    expect(error.code).toBe('42501');
    expect(await count("SELECT count(*) AS n FROM pg_class WHERE relname = 'sneaky'")).toBe(0);
  });

  it('may create a month of market_data through ensure_market_data_partitions, owned by the trading owner', async () => {
    expect(await count("SELECT count(*) AS n FROM pg_class WHERE relname = 'market_data_p203105'")).toBe(0);
    const { rows } = await pool.query<{ created: number }>("SELECT data_ingestion.ensure_market_data_partitions(ARRAY['2031-05-01']::date[]) AS created");
    expect(rows[0]!.created).toBe(1);
    const owner = await admin.query<{ owner: string; parent: string }>(
      `SELECT pg_get_userbyid(c.relowner) AS owner, i.inhparent::regclass::text AS parent
         FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
        WHERE c.oid = 'data_ingestion.market_data_p203105'::regclass`,
    );
    expect(owner.rows).toEqual([{ owner: ingestion.db.config.trading.owner.user, parent: 'data_ingestion.market_data' }]);
    expect(ingestion.db.config.trading.owner.user).not.toBe('data_ingestion_user');
    // Asking again creates nothing; a day of the month names the same month.
    const again = await pool.query<{ created: number }>("SELECT data_ingestion.ensure_market_data_partitions(ARRAY['2031-05-17', NULL]::date[]) AS created");
    expect(again.rows[0]!.created).toBe(0);
    // The new partition carries the parent's grants: the service can write bars into it.
    await symbols.add({ symbol: 'FUT31' });
    await pool.query("INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source) VALUES ('FUT31', '1d', '2031-05-02T00:00:00Z', 1, 1, 1, 1, 1, 'grant-check')");
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data_p203105 WHERE symbol = 'FUT31'")).toBe(1);
  });

  it('other service roles may not execute it (42501, InsufficientPrivilegeError)', async () => {
    const raw = (await failureOf(ingestion.pools.services.analytics.query("SELECT data_ingestion.ensure_market_data_partitions(ARRAY['2031-06-01']::date[])"))) as Error & { code?: string };
    expect(raw.code).toBe('42501');
    for (const service of ['analytics', 'execution', 'strategy_engine'] as const) {
      const typed = await failureOf(withTransaction(ingestion.pools.services[service], (client) => client.query("SELECT data_ingestion.ensure_market_data_partitions(ARRAY['2031-06-01']::date[])")));
      expect(typed).toBeInstanceOf(InsufficientPrivilegeError);
      expect((typed as InsufficientPrivilegeError).sqlstate).toBe('42501');
    }
    expect(await count("SELECT count(*) AS n FROM pg_class WHERE relname = 'market_data_p203106'")).toBe(0);
  });
});
