import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/load-config.ts';
import { adminOptions } from '../../src/db/connection-options.ts';
import { createPools, type Pools } from '../../src/db/pools.ts';
import { connectAdmin } from '../../src/db/setup.ts';
import { BackupCatalog } from '../../src/ops/backup-catalog.ts';
import { manifestPathOf, readManifest } from '../../src/ops/backup-manifest.ts';
import { takeBackup } from '../../src/ops/backup-service.ts';
import { restoreBackup, verifyBackup } from '../../src/ops/restore.ts';
import { schemaClosure } from '../../src/ops/schema-dependencies.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/tradedb.js');

let db: TestDatabases;
let pools: Pools;
let admin: pg.Client;

function settings(directory = mkdtempSync(path.join(os.tmpdir(), 'tradedb-backup-'))): Config['backup'] {
  return { directory, keepDaily: 7, keepWeekly: 4 };
}

/** Every table of `schemas` in `database`, each as one md5 over its rows sorted by their text. */
async function tableContents(database: string, schemas: string[]): Promise<Record<string, string>> {
  const client = new pg.Client(adminOptions(db.config, database));
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    const { rows: tables } = await client.query<{ name: string }>(
      "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) AND c.relkind = 'r' ORDER BY 1",
      [schemas],
    );
    const result: Record<string, string> = {};
    for (const { name } of tables) {
      const { rows } = await client.query<{ digest: string; n: string }>(`SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest, count(*) AS n FROM ${name} t`);
      result[name] = `${rows[0]!.n} ${rows[0]!.digest}`;
    }
    return result;
  } finally {
    await client.end();
  }
}

async function dropDatabase(name: string): Promise<void> {
  const maintenance = await connectAdmin(db.config, db.config.server.maintenanceDatabase);
  await maintenance.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => maintenance.end());
}

async function scratchDatabases(): Promise<string[]> {
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'tradedb\\_verify\\_%' AND datname LIKE $1", [`%\\_${process.pid}`]);
  return rows.map((row) => row.datname);
}

beforeAll(async () => {
  db = await cloneTemplateDatabases('backup');
  pools = createPools(db.config);
  admin = await connectAdmin(db.config, db.config.trading.database);
  // Rows in every schema a default backup takes (and in others), 200,000 bars among them, so a
  // dump takes long enough to be interrupted.
  await admin.query(`
    INSERT INTO data_ingestion.symbols (symbol, name) SELECT 'S' || g, 'Symbol ' || g FROM generate_series(1, 20) g;
    INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source)
    SELECT 'S' || s, '1m', date_trunc('month', now()) + m * interval '1 minute', 100 + m % 7, 110 + m % 7, 90, 101.5, m, 'test'
      FROM generate_series(1, 20) s, generate_series(0, 9999) m;
    INSERT INTO shared.accounts (account_id, name, starting_cash) VALUES ('acct-1', 'Backup test', 5000.25);
    INSERT INTO analytics.portfolio_summary (account_id, as_of, cash, market_value, equity, gross_exposure, net_exposure, realized_pnl, unrealized_pnl)
    VALUES ('acct-1', current_date, 5000.25, 0, 5000.25, 0, 0, 0, 0);
  `);
});

afterAll(async () => {
  await admin?.end();
  await pools?.close();
  await db?.drop();
});

describe('tradedb backup and restore', () => {
  it('takes the schemas a backup needs to restore: analytics brings shared and strategy_engine along', async () => {
    expect(await schemaClosure(admin, ['analytics'])).toEqual(['analytics', 'data_ingestion', 'shared', 'strategy_engine']);
    expect(await schemaClosure(admin, ['data_ingestion'])).toEqual(['data_ingestion', 'shared']);
  });

  it('backs up, restores into a new database, and every table there holds exactly the source rows', async () => {
    const backupSettings = settings();
    const taken = await takeBackup(db.config, backupSettings, pools.orchestration, {});
    expect(taken.manifests).toHaveLength(1);
    const [manifest] = taken.manifests;
    expect(manifest!.requestedSchemas).toEqual(['data_ingestion', 'analytics']);
    expect(manifest!.tables['data_ingestion.market_data']!.rows).toBe(200_000);
    const file = path.join(backupSettings.directory, manifest!.file);
    expect(readdirSync(backupSettings.directory).sort()).toEqual([path.basename(file), path.basename(manifestPathOf(file))].sort());
    expect((await new BackupCatalog(pools.orchestration).list()).map((row) => row.file)).toContain(file);

    const target = `${db.config.trading.database}_restored`;
    try {
      await restoreBackup(db.config, file, { targetDatabase: target });
      const source = await tableContents(db.config.trading.database, manifest!.schemas);
      expect(Object.keys(source).length).toBeGreaterThan(10);
      expect(await tableContents(target, manifest!.schemas)).toEqual(source);
      await expect(restoreBackup(db.config, file, { targetDatabase: target })).rejects.toThrow(/already exists; restore never writes over a database.*--force/);
      await restoreBackup(db.config, file, { targetDatabase: target, force: true });
    } finally {
      await dropDatabase(target);
    }
  });

  it('--all writes the orchestration database too, and both verify', async () => {
    const backupSettings = settings();
    const { manifests } = await takeBackup(db.config, backupSettings, pools.orchestration, { all: true });
    expect(manifests.map((manifest) => manifest.database)).toEqual([db.config.trading.database, db.config.orchestration.database]);
    expect(manifests[0]!.schemas).toEqual(expect.arrayContaining(['execution', 'risk_management', 'notification', 'logging']));
    expect(Object.keys(manifests[1]!.tables)).toContain('orchestration.flow_runs');
    for (const manifest of manifests) {
      const result = await verifyBackup(db.config, path.join(backupSettings.directory, manifest.file));
      expect(result).toMatchObject({ ok: true, differences: [] });
    }
    expect(await scratchDatabases()).toEqual([]);
  });

  it('a corrupted file fails verification before anything is restored; a manifest that disagrees with the data fails too', async () => {
    const backupSettings = settings();
    const { manifests } = await takeBackup(db.config, backupSettings, pools.orchestration, { schemas: ['shared'] });
    const file = path.join(backupSettings.directory, manifests[0]!.file);

    // Rows that differ from the dump: the manifest claims one account more and another checksum.
    const manifestFile = manifestPathOf(file);
    const original = readFileSync(manifestFile, 'utf8');
    const tampered = JSON.parse(original);
    tampered.tables['shared.accounts'].rows += 1;
    tampered.tables['shared.system_config'].checksum = '12345';
    writeFileSync(manifestFile, JSON.stringify(tampered));
    const mismatch = await verifyBackup(db.config, file);
    expect(mismatch.ok).toBe(false);
    expect(mismatch.differences).toEqual([
      'shared.accounts: 1 rows restored, the manifest says 2',
      expect.stringMatching(/^shared\.system_config: \d+ rows as expected, but their contents differ/),
    ]);
    writeFileSync(manifestFile, original);

    // One byte changed in the middle of the file.
    const bytes = readFileSync(file);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(file, bytes);
    await expect(verifyBackup(db.config, file)).rejects.toThrow(/is corrupted: its sha256 is [0-9a-f]{64}, its manifest says [0-9a-f]{64}/);
    expect(await scratchDatabases()).toEqual([]);
    expect(readManifest(file).file).toBe(path.basename(file));
  });

  it('checksums rows by their columns\' hash functions, and by their text where a column type has none (json, point)', async () => {
    await admin.query(`SET ROLE "${db.config.trading.owner.user}"`);
    await admin.query("CREATE TABLE shared.odd_types (id int PRIMARY KEY, doc json, spot point); INSERT INTO shared.odd_types VALUES (1, '{\"a\": 1}', '(1,2)'), (2, '[]', '(3,4)'); RESET ROLE");
    try {
      const backupSettings = settings();
      const { manifests } = await takeBackup(db.config, backupSettings, pools.orchestration, { schemas: ['shared'] });
      expect(manifests[0]!.tables['shared.odd_types']).toMatchObject({ rows: 2, method: 'text' });
      expect(manifests[0]!.tables['shared.accounts']).toMatchObject({ rows: 1, method: 'record' });
      expect(await verifyBackup(db.config, path.join(backupSettings.directory, manifests[0]!.file))).toMatchObject({ ok: true, differences: [] });
    } finally {
      await admin.query('DROP TABLE shared.odd_types');
    }
  });

  it('refuses a schema that does not exist, naming it, and writes nothing', async () => {
    const backupSettings = settings();
    await expect(takeBackup(db.config, backupSettings, pools.orchestration, { schemas: ['data_ingestion', 'nope'] })).rejects.toThrow(/--schemas: nope is not a schema of/);
    expect(readdirSync(backupSettings.directory)).toEqual([]);
  });

  it('a backup stopped mid-way (Ctrl-C, or kill -9 of the process) leaves no file that looks complete', async () => {
    // Stopped through its signal: nothing at all remains.
    const stopped = settings();
    const abort = new AbortController();
    await expect(takeBackup(db.config, stopped, pools.orchestration, { signal: abort.signal, onProgress: () => abort.abort() })).rejects.toThrow(/stopped/);
    expect(readdirSync(stopped.directory)).toEqual([]);

    // Killed outright while pg_dump writes: at most a .partial file, which the next backup removes.
    const killed = settings();
    const child = spawn(process.execPath, [BIN, 'backup'], { env: { ...process.env, ...db.env, TRADEDB_BACKUP_DIR: killed.directory }, stdio: 'ignore' });
    await waitFor(async () => readdirSync(killed.directory).some((name) => name.endsWith('.partial')), { timeoutMs: 30_000, intervalMs: 5 });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    const left = readdirSync(killed.directory);
    expect(left.filter((name) => !name.endsWith('.partial'))).toEqual([]);

    const { manifests } = await takeBackup(db.config, killed, pools.orchestration, {});
    expect(readdirSync(killed.directory).sort()).toEqual([manifests[0]!.file, path.basename(manifestPathOf(manifests[0]!.file))].sort());
    expect(existsSync(path.join(killed.directory, manifests[0]!.file))).toBe(true);
  });
});
