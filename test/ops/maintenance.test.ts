import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOwnerPool } from '../../src/db/owner-pool.ts';
import { connectAdmin } from '../../src/db/setup.ts';
import { runMaintenance } from '../../src/ops/maintenance.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';

let db: TestDatabases;
let admin: pg.Client;
let owner: pg.Pool;
const expired = [partitionName('logging.system_logs', -3), dayPartitionName('logging.performance_logs', -40)];

const exists = async (name: string) => (await admin.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name])).rows[0]!.t !== null;
const count = async (sql: string) => Number((await admin.query<{ n: string }>(sql)).rows[0]!.n);

/** "schema.table_pYYYYMM" of the month `monthsFromNow` away (UTC). */
function partitionName(table: string, monthsFromNow: number): string {
  const date = new Date();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() + monthsFromNow);
  return `${table}_p${date.toISOString().slice(0, 7).replace('-', '')}`;
}

/** "schema.table_pYYYYMMDD" of the day `daysFromNow` away (UTC): the log tables' partitions. */
function dayPartitionName(table: string, daysFromNow: number): string {
  return `${table}_p${new Date(Date.now() + daysFromNow * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

beforeAll(async () => {
  db = await cloneTemplateDatabases('maintenance');
  admin = await connectAdmin(db.config, db.config.trading.database);
  owner = createOwnerPool(db.config);
  await admin.query(`
    -- A log month long past (as before migration 0006, with a row), a log day 40 days ago and an
    -- audit month as old, which must never be dropped.
    SELECT shared.create_monthly_partitions('logging.system_logs', (date_trunc('month', now()) - interval '3 months')::date, 1);
    SELECT shared.create_daily_partitions('logging.performance_logs', (now() AT TIME ZONE 'UTC')::date - 40, 1);
    SELECT shared.create_monthly_partitions('shared.audit_log', (date_trunc('month', now()) - interval '3 months')::date, 1);
    INSERT INTO logging.system_logs (logged_at, service, level, message) VALUES (date_trunc('month', now()) - interval '80 days', 'test', 'info', 'old');
    -- A run whose process died two days ago, and one still making progress.
    INSERT INTO data_ingestion.ingestion_runs (source, status, started_at, updated_at) VALUES ('dead', 'running', now() - interval '2 days', now() - interval '2 days'), ('alive', 'running', now() - interval '1 hour', now());
    -- Old intraday and daily bars.
    INSERT INTO data_ingestion.symbols (symbol) VALUES ('OLD');
    INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, source)
    VALUES ('OLD', '1m', now() - interval '40 days', 10, 11, 9, 10, 't'), ('OLD', '1h', now() - interval '40 days', 10, 11, 9, 10, 't'),
           ('OLD', '1m', now() - interval '1 day', 10, 11, 9, 10, 't'), ('OLD', '1d', date_trunc('day', now() - interval '40 days'), 10, 11, 9, 10, 't');
  `);
  // The partitions of three months and five days ahead are missing, as on a database whose maintenance stopped.
  await admin.query(`DROP TABLE ${partitionName('data_ingestion.market_data', 3)}, ${dayPartitionName('logging.performance_logs', 5)}`);
});

afterAll(async () => {
  await owner?.end();
  await admin?.end();
  await db?.drop();
});

describe('tradedb maintenance', () => {
  it('--dry-run reports what it would do and changes nothing', async () => {
    const report = await runMaintenance(owner, { dryRun: true, intradayRetentionDays: 10 });
    expect(report.partitionsDropped).toEqual(expect.arrayContaining(expired));
    expect(report.partitionsCreated).toBeGreaterThanOrEqual(2);
    expect(report.intradayBarsDeleted).toBe(2);
    expect(report.staleRunsClosed).toHaveLength(1);
    for (const partition of expired) expect(await exists(partition)).toBe(true);
    expect(await exists(partitionName('data_ingestion.market_data', 3))).toBe(false);
    expect(await exists(dayPartitionName('logging.performance_logs', 5))).toBe(false);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.market_data WHERE symbol = 'OLD'")).toBe(4);
    expect(await count("SELECT count(*) AS n FROM data_ingestion.ingestion_runs WHERE status = 'running'")).toBe(2);
  });

  it('creates partitions ahead, drops expired log partitions (never audit), deletes old intraday bars (never daily), closes dead runs', async () => {
    const report = await runMaintenance(owner, { intradayRetentionDays: 10 });
    expect(report.dryRun).toBe(false);
    expect(await exists(partitionName('data_ingestion.market_data', 3))).toBe(true);
    expect(await exists(dayPartitionName('logging.performance_logs', 5))).toBe(true);
    expect(report.partitionsDropped).toEqual(expect.arrayContaining(expired));
    // Only log partitions whose day (or month) ended more than 30 days ago.
    for (const partition of report.partitionsDropped) expect(partition).toMatch(/^logging\./);
    for (const partition of expired) expect(await exists(partition)).toBe(false);
    expect(await exists(partitionName('shared.audit_log', -3))).toBe(true);
    expect(report.intradayBarsDeleted).toBe(2);
    expect((await admin.query("SELECT interval FROM data_ingestion.market_data WHERE symbol = 'OLD' ORDER BY interval")).rows.map((row) => row.interval)).toEqual(['1d', '1m']);
    const runs = (await admin.query("SELECT source, status, error FROM data_ingestion.ingestion_runs WHERE source IN ('dead', 'alive') ORDER BY source")).rows;
    expect(runs).toMatchObject([{ source: 'alive', status: 'running' }, { source: 'dead', status: 'failed', error: expect.stringMatching(/^abandoned: still running with no progress since/) }]);
    expect(report.largestTables.length).toBeGreaterThan(0);
    if ('unavailable' in report.queryStats) {
      expect(report.queryStats.unavailable).toMatch(/not loaded by the server: add shared_preload_libraries/);
    } else {
      expect(report.queryStats.snapshotRows).toBeGreaterThan(0);
      expect(await count('SELECT count(*) AS n FROM logging.query_stat_snapshots')).toBe(report.queryStats.snapshotRows);
    }

    const again = await runMaintenance(owner, { intradayRetentionDays: 10 });
    expect(again).toMatchObject({ partitionsCreated: 0, partitionsDropped: [], intradayBarsDeleted: 0, staleRunsClosed: [] });
  });

  it('without intraday retention configured, no bar is ever deleted', async () => {
    await admin.query("INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, source) VALUES ('OLD', '5m', now() - interval '400 days', 10, 11, 9, 10, 't')");
    const before = await count('SELECT count(*) AS n FROM data_ingestion.market_data');
    expect((await runMaintenance(owner)).intradayBarsDeleted).toBe(0);
    expect(await count('SELECT count(*) AS n FROM data_ingestion.market_data')).toBe(before);
  });
});
