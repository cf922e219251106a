import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../config/database-config.ts';
import { adminOptions } from '../db/connection-options.ts';
import { UserFacingError } from '../db/errors.ts';
import { quoteIdentifier } from '../db/psql-script.ts';
import { connectAdmin } from '../db/setup.ts';
import { type BackupManifest, readManifest, sha256OfFile } from './backup-manifest.ts';
import { clientToolEnvironment, findClientTool } from './client-tools.ts';
import { FINGERPRINT_SETTINGS, fingerprintTables, tablesOf } from './table-fingerprint.ts';

export interface RestoreOptions {
  targetDatabase: string;
  /** Drop the target first if it exists (else an existing target is refused). */
  force?: boolean | undefined;
  clientBinDir?: string | undefined;
  /** pg_restore --jobs; default the number of CPUs (at most 4). */
  jobs?: number | undefined;
}

export interface RestoreResult {
  database: string;
  manifest: BackupManifest;
  durationMs: number;
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Restores a tradedb backup into a new database (owned, like the original, by its owner role):
 * checks the file against its manifest first, creates the database, runs pg_restore as the
 * superuser, stopping at the first error. An existing database is never overwritten without `force`.
 */
export async function restoreBackup(config: DatabaseConfig, file: string, options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  if (!DATABASE_NAME.test(options.targetDatabase)) {
    throw new UserFacingError(`--target-db ${JSON.stringify(options.targetDatabase)}: expected a lower-case PostgreSQL name (letters, digits and _).`);
  }
  const manifest = await checkedManifest(file);
  const admin = await connectAdmin(config, config.server.maintenanceDatabase);
  try {
    const serverVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    const pgRestore = await findClientTool('pg_restore', Number.parseInt(serverVersion, 10), options.clientBinDir);
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.targetDatabase]);
    if (rowCount && !options.force) {
      throw new UserFacingError(`Database ${options.targetDatabase} already exists; restore never writes over a database. Choose a new --target-db, or add --force to drop it first.`);
    }
    if (rowCount) await admin.query(`DROP DATABASE ${quoteIdentifier(options.targetDatabase)} WITH (FORCE)`);
    const owner = manifest.database === config.orchestration.database ? config.orchestration.user : config.trading.owner.user;
    await admin.query(`CREATE DATABASE ${quoteIdentifier(options.targetDatabase)} OWNER ${quoteIdentifier(owner)} TEMPLATE template0 ENCODING 'UTF8'`);
    const jobs = options.jobs ?? Math.min(4, os.cpus().length);
    try {
      await runPgRestore(pgRestore.path, ['--exit-on-error', `--jobs=${jobs}`, `--dbname=${options.targetDatabase}`, file], clientToolEnvironment(config, config.server.admin, options.targetDatabase));
    } catch (error) {
      // A half-restored database is worse than none.
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(options.targetDatabase)} WITH (FORCE)`).catch(() => undefined);
      throw error;
    }
    return { database: options.targetDatabase, manifest, durationMs: performance.now() - started };
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export interface VerifyResult {
  file: string;
  ok: boolean;
  /** One line per table whose rows differ from the manifest, or that is missing or extra. */
  differences: string[];
  tables: number;
  rows: number;
  durationMs: number;
}

/**
 * Proves a backup restores: restores it into a scratch database, counts and checksums every
 * table there and compares with the manifest, then drops the scratch database whatever happened.
 * A file whose sha256 or size differs from its manifest fails before anything is restored.
 */
export async function verifyBackup(config: DatabaseConfig, file: string, options: Pick<RestoreOptions, 'clientBinDir' | 'jobs'> = {}): Promise<VerifyResult> {
  const started = performance.now();
  const scratch = `tradedb_verify_${Date.now().toString(36)}_${process.pid}`;
  try {
    const { manifest } = await restoreBackup(config, file, { ...options, targetDatabase: scratch });
    const restored = new pg.Client(adminOptions(config, scratch));
    await restored.connect();
    let actual: Awaited<ReturnType<typeof fingerprintTables>>;
    try {
      await restored.query(FINGERPRINT_SETTINGS);
      await restored.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const methods = Object.fromEntries(Object.entries(manifest.tables).map(([table, fingerprint]) => [table, fingerprint.method]));
      actual = await fingerprintTables(restored, await tablesOf(restored, manifest.schemas), methods);
      await restored.query('COMMIT');
    } finally {
      await restored.end();
    }
    const differences = compareFingerprints(manifest.tables, actual);
    return { file, ok: differences.length === 0, differences, tables: Object.keys(actual).length, rows: Object.values(actual).reduce((sum, table) => sum + table.rows, 0), durationMs: performance.now() - started };
  } finally {
    const admin = await connectAdmin(config, config.server.maintenanceDatabase);
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)} WITH (FORCE)`).finally(() => admin.end());
  }
}

function compareFingerprints(expected: BackupManifest['tables'], actual: BackupManifest['tables']): string[] {
  const differences: string[] = [];
  for (const [table, want] of Object.entries(expected)) {
    const got = actual[table];
    if (!got) differences.push(`${table}: in the manifest, missing from the restored database`);
    else if (got.rows !== want.rows) differences.push(`${table}: ${got.rows} rows restored, the manifest says ${want.rows}`);
    else if (got.checksum !== want.checksum) differences.push(`${table}: ${got.rows} rows as expected, but their contents differ (checksum ${got.checksum}, manifest ${want.checksum})`);
  }
  for (const table of Object.keys(actual)) if (!(table in expected)) differences.push(`${table}: restored, but not in the manifest`);
  return differences;
}

/** The manifest, once the file is known to be the one it describes. */
async function checkedManifest(file: string): Promise<BackupManifest> {
  if (!existsSync(file)) throw new UserFacingError(`${file}: no such backup file.`);
  const manifest = readManifest(file);
  if (path.basename(file) !== manifest.file) {
    throw new UserFacingError(`${file}: its manifest describes ${manifest.file}; a renamed backup cannot be checked. Give the backup its name back.`);
  }
  const sha256 = await sha256OfFile(file);
  if (sha256 !== manifest.sha256) {
    throw new UserFacingError(`${file} is corrupted: its sha256 is ${sha256}, its manifest says ${manifest.sha256}. Do not restore it; use another backup.`);
  }
  return manifest;
}

function runPgRestore(binary: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      errors += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new UserFacingError(`pg_restore failed (${signal ?? `exit ${code}`}); the backup does not restore:\n${errors.trim()}`));
    });
  });
}
