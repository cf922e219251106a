import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectAdmin } from '../../src/db/setup.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/tradedb.js');
let db: TestDatabases;
let admin: pg.Client;

beforeAll(async () => {
  db = await cloneTemplateDatabases('interrupt');
  admin = await connectAdmin(db.config, db.config.trading.database);
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});


it('Ctrl-C stops an ingest after its batch in flight: exit 130, run cancelled, watermarks match the committed bars', async () => {
  const child = spawn(process.execPath, [BIN, 'ingest', 'synthetic', '--symbols', '50', '--bars', '100000', '--interval', '1m', '--batch-size', '5000', '--start', '2024-01-01T00:00:00Z'], {
    cwd: mkdtempSync(path.join(os.tmpdir(), 'tradedb-cli-')),
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...db.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

  await waitFor(async () => (await admin.query('SELECT 1 FROM data_ingestion.ingestion_runs WHERE rows_inserted > 0')).rows.length > 0);
  child.kill('SIGINT');
  expect(await exited, output).toBe(130);
  expect(output).toMatch(/cancelled/);

  const { rows: runs } = await admin.query('SELECT status, rows_read::int AS read, rows_inserted::int AS inserted, error FROM data_ingestion.ingestion_runs');
  expect(runs).toHaveLength(1);
  expect(runs[0]).toMatchObject({ status: 'cancelled' });
  expect(runs[0].inserted).toBeGreaterThan(0);
  expect(runs[0].inserted).toBeLessThan(5_000_000);
  expect(runs[0].read).toBe(runs[0].inserted);
  // Every watermark names the last bar that is really stored, and row counts agree.
  const { rows: mismatches } = await admin.query(`
    SELECT s.symbol FROM data_ingestion.symbol_data_status s
      LEFT JOIN (SELECT symbol, max(ts) AS last, count(*) AS n FROM data_ingestion.market_data GROUP BY symbol) m USING (symbol)
     WHERE s.watermark IS DISTINCT FROM m.last OR s.row_count <> coalesce(m.n, 0)`);
  expect(mismatches).toEqual([]);
  const { rows: total } = await admin.query('SELECT count(*)::int AS n FROM data_ingestion.market_data');
  expect(total[0].n).toBe(runs[0].inserted);
});
