import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ingestBars } from '../../src/services/data-ingestion/ingest-pipeline.ts';
import { SyntheticProvider } from '../../src/services/data-ingestion/providers/synthetic-provider.ts';
import { type IngestionDatabase, openIngestionDatabase } from '../support/ingestion-database.ts';
import { waitFor } from '../support/wait-for.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/tradedb.js');
let ingestion: IngestionDatabase;

beforeAll(async () => {
  ingestion = await openIngestionDatabase('closedpipe');
  // Far more than a pipe buffers, so the export is still running when the reader goes away.
  await ingestBars(ingestion.pool, { provider: new SyntheticProvider({ symbols: ['PIPE'], interval: '1m', bars: 200_000, seed: 1, start: new Date('2024-01-01T00:00:00Z') }), interval: '1m', source: 'synthetic', createSymbols: true });
});
afterAll(() => ingestion?.close());

it('`tradedb bars ... | head -1`: the reader leaving early ends the command quietly, with exit 0 and its connection closed', async () => {
  const child = spawn(process.execPath, [BIN, 'bars', 'PIPE', '--interval', '1m'], {
    cwd: mkdtempSync(path.join(os.tmpdir(), 'tradedb-cli-')),
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...ingestion.db.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const firstChunk = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  child.stdout.destroy(); // what head does after its first line
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(firstChunk.split('\n')[0]).toBe('symbol,interval,ts,open,high,low,close,volume,vwap,trade_count,source');
  expect(code, stderr).toBe(0);
  expect(stderr).not.toMatch(/EPIPE|Error/);
  // The server ends the dropped connection's backend when its next write fails: wait for it.
  await waitFor(async () => {
    const { rows } = await ingestion.admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'tradedb:%' AND pid <> pg_backend_pid()");
    return rows[0].n === 0;
  }, { timeoutMs: 10_000, intervalMs: 100 });
});
