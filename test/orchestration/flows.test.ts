import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { manifestPathOf } from '../../src/ops/backup-manifest.ts';
import { createPools, type Pools } from '../../src/db/pools.ts';
import { connectAdmin } from '../../src/db/setup.ts';
import type { BarSource, ReferenceSource } from '../../src/orchestration/flow-definition.ts';
import { KEY_STATISTIC_COLUMNS, type ReferenceData } from '../../src/services/data-ingestion/reference-data.ts';
import { FlowRunRepository } from '../../src/orchestration/flow-run-repository.ts';
import { triggerFlow } from '../../src/orchestration/flow-trigger.ts';
import { type RunningWorker, startWorker } from '../../src/orchestration/worker.ts';
import { dailyBar, memoryProvider } from '../support/bar-rows.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

let db: TestDatabases;
let pools: Pools;
let admin: pg.Client;
let worker: RunningWorker;
let runs: FlowRunRepository;
const backupDir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-flow-backup-'));

/** Two daily bars per symbol ending on the run's day; the symbol BAD fails like an unreachable API. */
const testSource: BarSource = async ({ symbols, to }) => {
  if (symbols.includes('BAD')) throw new Error('BAD: the provider answered 503');
  const day = (back: number) => new Date(to.getTime() - back * 86_400_000).toISOString().slice(0, 10);
  return memoryProvider(symbols.flatMap((symbol) => [dailyBar(symbol, day(2)), dailyBar(symbol, day(1))]), 'test');
};

/** A profile, a statistics snapshot and two holders per symbol; BAD fails. */
const testReferenceSource: ReferenceSource = async (symbol) => {
  if (symbol === 'BAD') throw new Error('BAD: no such quote');
  return {
    company: { name: `${symbol} Corp`, sector: 'Tech', industry: null, country: null, website: null, description: null, employees: 10, marketCap: '1000000' },
    statistics: { ...Object.fromEntries(Object.keys(KEY_STATISTIC_COLUMNS).map((name) => [name, null])), peRatio: '12.5' } as NonNullable<ReferenceData['statistics']>,
    holders: [
      { reportDate: '2026-09-30', holder: 'Fund A', shares: '100', value: '1000', pctHeld: '0.01' },
      { reportDate: '2026-09-30', holder: 'Fund B', shares: '50', value: null, pctHeld: null },
    ],
  };
};

async function runToEnd(name: string, parameters: Record<string, unknown>) {
  const run = await triggerFlow(pools, name, parameters);
  await waitFor(async () => ['completed', 'failed'].includes((await runs.get(run.id))!.state), { timeoutMs: 60_000, intervalMs: 50 });
  return { run: (await runs.get(run.id))!, tasks: await runs.tasks(run.id) };
}

beforeAll(async () => {
  db = await cloneTemplateDatabases('flows');
  pools = createPools(db.config, () => undefined);
  admin = await connectAdmin(db.config, db.config.trading.database);
  runs = new FlowRunRepository(pools.orchestration);
  await admin.query("INSERT INTO data_ingestion.symbols (symbol) VALUES ('AAA'), ('BAD'), ('CCC')");
  await admin.query("INSERT INTO shared.accounts (account_id, name, starting_cash) VALUES ('eod-1', 'End of day', 1000)");
  const settings = loadConfig({ env: { ...db.env, TRADEDB_BACKUP_DIR: backupDir }, envFile: false });
  worker = await startWorker({ database: db.config, settings, pools, schedule: false, barSources: { test: testSource }, referenceSources: { test: testReferenceSource }, pollIntervalMs: 200, heartbeatMs: 500 });
});

afterAll(async () => {
  await worker?.stop();
  await admin?.end();
  await pools?.close();
  await db?.drop();
});

describe('the flows, run by the worker', () => {
  it('daily ingestion: one task per active symbol; a symbol that fails does not fail the others; a rerun changes nothing', async () => {
    const { run, tasks } = await runToEnd('daily-ingestion', { source: 'test' });
    expect(run.state).toBe('completed');
    expect(run.result).toMatchObject({ symbols: 3, succeeded: 2, failed: ['BAD'], inserted: 4 });
    expect(tasks.map((task) => [task.taskName, task.state])).toEqual([['ingest AAA', 'completed'], ['ingest BAD', 'failed'], ['ingest CCC', 'completed']]);
    expect(tasks[1]!.error).toMatch(/503/);
    const { rows } = await admin.query("SELECT symbol, count(*)::int AS n FROM data_ingestion.market_data GROUP BY symbol ORDER BY symbol");
    expect(rows).toEqual([{ symbol: 'AAA', n: 2 }, { symbol: 'CCC', n: 2 }]);

    const again = await runToEnd('daily-ingestion', { source: 'test', symbols: 'AAA,CCC' });
    expect(again.run.result).toMatchObject({ symbols: 2, succeeded: 2, failed: [], inserted: 0 });
  });

  it('weekly reference data: profile, statistics and holders per symbol with their run; a rerun replaces, never duplicates', async () => {
    for (let round = 0; round < 2; round += 1) {
      const { run, tasks } = await runToEnd('weekly-reference-data', { source: 'test' });
      expect(run.result).toMatchObject({ symbols: 3, succeeded: 2, failed: ['BAD'] });
      expect(tasks.filter((task) => task.attempt === 1).map((task) => task.state)).toEqual(['completed', 'failed', 'completed']);
    }
    const counts = (await admin.query(
      `SELECT (SELECT count(*)::int FROM data_ingestion.company_info) AS companies, (SELECT count(*)::int FROM data_ingestion.key_statistics) AS statistics,
              (SELECT count(*)::int FROM data_ingestion.institutional_holders) AS holders,
              (SELECT count(*)::int FROM data_ingestion.institutional_holders h JOIN data_ingestion.ingestion_runs r ON r.id = h.ingestion_run_id WHERE r.status = 'succeeded') AS traced`,
    )).rows[0];
    expect(counts).toEqual({ companies: 2, statistics: 2, holders: 4, traced: 4 });
    const { rows } = await admin.query("SELECT pe_ratio::text FROM data_ingestion.key_statistics WHERE symbol = 'AAA'");
    expect(rows).toEqual([{ pe_ratio: '12.50000000' }]);
  });

  it('end-of-day analytics: strategy performance and each active account summarized at the day end', async () => {
    const { run } = await runToEnd('end-of-day-analytics', { day: '2026-11-20' });
    expect(run.state).toBe('completed');
    expect(run.result).toMatchObject({ day: '2026-11-20', accounts: 1, failed: [] });
    const { rows } = await admin.query("SELECT as_of, cash::text FROM analytics.portfolio_summary WHERE account_id = 'eod-1' ORDER BY as_of");
    // The day's close: its two midnights and its daily metrics (what live analytics keeps current).
    expect(rows).toEqual([
      { as_of: new Date('2026-11-20T00:00:00Z'), cash: '1000.00000000' },
      { as_of: new Date('2026-11-21T00:00:00Z'), cash: '1000.00000000' },
    ]);
    const metrics = await admin.query("SELECT period, period_start::text, trades FROM analytics.performance_metrics WHERE account_id = 'eod-1'");
    expect(metrics.rows).toEqual([{ period: 'daily', period_start: '2026-11-20', trades: 0 }]);
  });

  it('weekly backup: a dump with its manifest, catalogued with its flow run', async () => {
    const { run } = await runToEnd('weekly-backup', { schemas: 'shared' });
    expect(run.state).toBe('completed');
    const [file] = (run.result as { files: string[] }).files;
    expect(existsSync(path.join(backupDir, file!))).toBe(true);
    expect(existsSync(manifestPathOf(path.join(backupDir, file!)))).toBe(true);
    const { rows } = await pools.orchestration.query('SELECT flow_run_id::int AS "flowRunId" FROM orchestration.backups WHERE file = $1', [path.join(backupDir, file!)]);
    expect(rows).toEqual([{ flowRunId: run.id }]);
    const events = await admin.query("SELECT payload FROM shared.event_outbox WHERE event_type = 'backup.completed'");
    expect(events.rows).toEqual([{ payload: expect.objectContaining({ file, schemas: ['shared'], sizeBytes: expect.any(Number) }) }]);
  });

  it('nightly maintenance runs and reports', async () => {
    const { run } = await runToEnd('nightly-maintenance', {});
    expect(run.state).toBe('completed');
    expect(run.result).toMatchObject({ dryRun: false, partitionsDropped: [] });
  });
});
