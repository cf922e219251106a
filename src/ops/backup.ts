import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { DatabaseConfig, RoleCredentials } from '../config/database-config.ts';
import { connectionOptions } from '../db/connection-options.ts';
import { UserFacingError } from '../db/errors.ts';
import { type BackupManifest, MANIFEST_FORMAT, manifestPathOf, PARTIAL_SUFFIX, sha256OfFile, writeManifest } from './backup-manifest.ts';
import { clientToolEnvironment, findClientTool } from './client-tools.ts';
import { extensionsIn, schemaClosure, userSchemas } from './schema-dependencies.ts';
import { countDataTables, FINGERPRINT_SETTINGS, fingerprintTables, tablesOf } from './table-fingerprint.ts';

/** The seed's key schemas: what a backup holds unless told otherwise. */
export const DEFAULT_BACKUP_SCHEMAS = ['data_ingestion', 'analytics'];
/** One backup at a time per installation (taken in the trading database). */
const BACKUP_LOCK_KEY = 7_246_110_002;

export interface BackupOptions {
  /** Schemas of the trading database; default DEFAULT_BACKUP_SCHEMAS. Ignored with `all`. */
  schemas?: string[] | undefined;
  /** Every schema of the trading database, and the orchestration database as a second file. */
  all?: boolean | undefined;
  directory: string;
  clientBinDir?: string | undefined;
  /** Stops the dump and removes what it wrote. */
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: BackupProgress) => void) | undefined;
}

export interface BackupProgress {
  database: string;
  /** Tables whose data pg_dump has written, of `total`. */
  done: number;
  total: number;
  table?: string | undefined;
}

/**
 * Dumps the trading database's schemas (and with `all` the orchestration database) with
 * `pg_dump -Fc`, each file with a manifest beside it: sha256, size, schemas, per-table row counts
 * and checksums taken in the very snapshot the dump reads, server and tool versions, duration.
 * A file is written as NAME.dump.partial and renamed only when it and its manifest are complete,
 * so an interrupted backup never leaves a file that looks finished. Runs as the databases'
 * owners, never as a superuser.
 */
export async function runBackup(config: DatabaseConfig, options: BackupOptions): Promise<BackupManifest[]> {
  mkdirSync(options.directory, { recursive: true });
  const lock = new pg.Client(connectionOptions(config, config.trading.owner, config.trading.database, { applicationName: 'tradedb:backup' }));
  await lock.connect();
  try {
    const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [BACKUP_LOCK_KEY]);
    if (!rows[0]!.locked) throw new UserFacingError('Another backup of this installation is running; try again when it has finished.');
    removeStalePartials(options.directory);
    const manifests = [await dumpDatabase(config, config.trading.owner, config.trading.database, options.all ? 'all' : (options.schemas ?? DEFAULT_BACKUP_SCHEMAS), options)];
    if (options.all) manifests.push(await dumpDatabase(config, config.orchestration, config.orchestration.database, 'all', options));
    return manifests;
  } finally {
    await lock.end().catch(() => undefined);
  }
}

/** Left by a backup that was killed: nothing else writes .partial files while the lock is held. */
function removeStalePartials(directory: string): void {
  for (const name of readdirSync(directory)) {
    if (name.endsWith(PARTIAL_SUFFIX)) unlinkSync(path.join(directory, name));
  }
}

async function dumpDatabase(config: DatabaseConfig, role: RoleCredentials, database: string, requested: string[] | 'all', options: BackupOptions): Promise<BackupManifest> {
  const started = new Date();
  const snapshotHolder = new pg.Client(connectionOptions(config, role, database, { applicationName: 'tradedb:backup' }));
  await snapshotHolder.connect();
  const file = path.join(options.directory, `${database}-${fileStamp(started)}.dump`);
  const partial = `${file}${PARTIAL_SUFFIX}`;
  try {
    const serverVersion = (await snapshotHolder.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    const pgDump = await findClientTool('pg_dump', Number.parseInt(serverVersion, 10), options.clientBinDir);
    const present = await userSchemas(snapshotHolder);
    const requestedSchemas = requested === 'all' ? present : requested;
    const missing = requestedSchemas.filter((schema) => !present.includes(schema));
    if (missing.length > 0) {
      throw new UserFacingError(`--schemas: ${missing.join(', ')} ${missing.length === 1 ? 'is not a schema' : 'are not schemas'} of ${database} (it has: ${present.join(', ')}).`);
    }
    const schemas = requested === 'all' ? present : await schemaClosure(snapshotHolder, requestedSchemas);
    const extensions = await extensionsIn(snapshotHolder, schemas);
    const tables = await tablesOf(snapshotHolder, schemas);
    const dataTables = await countDataTables(snapshotHolder, schemas);

    // The manifest's counts and pg_dump's data come from one snapshot, exported here and held
    // open until both are done.
    // No parallel workers for the checksums: on a small machine they would take the CPU that
    // pg_dump's compression needs, and the backup would take longer, not shorter.
    await snapshotHolder.query(`${FINGERPRINT_SETTINGS}; SET max_parallel_workers_per_gather = 0`);
    await snapshotHolder.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await snapshotHolder.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    // A whole database is dumped as such (pg_dump then handles `public` and extensions itself).
    // Names double-quoted: pg_dump reads them as patterns, which would fold case and expand * and ?.
    const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;
    const selection = requested === 'all' ? [] : [...schemas.map((schema) => `--schema=${quoted(schema)}`), ...extensions.map((name) => `--extension=${quoted(name)}`)];
    const args = ['--format=custom', `--snapshot=${snapshot}`, `--file=${partial}`, '--verbose', ...selection];
    const [fingerprints] = await Promise.all([
      fingerprintTables(snapshotHolder, tables),
      runPgDump(pgDump.path, args, clientToolEnvironment(config, role, database), options, (done, table) => options.onProgress?.({ database, done, total: dataTables, table })),
    ]);
    await snapshotHolder.query('COMMIT');

    const finished = new Date();
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      file: path.basename(file),
      database,
      schemas,
      requestedSchemas,
      extensions,
      sha256: await sha256OfFile(partial),
      sizeBytes: (await stat(partial)).size,
      tables: fingerprints,
      totalRows: Object.values(fingerprints).reduce((sum, table) => sum + table.rows, 0),
      serverVersion,
      pgDumpVersion: pgDump.version,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
    };
    options.signal?.throwIfAborted();
    await writeManifest(file, manifest);
    await rename(partial, file);
    return manifest;
  } catch (error) {
    for (const leftover of [partial, manifestPathOf(file)]) {
      try {
        unlinkSync(leftover);
      } catch {
        // Never written.
      }
    }
    throw error;
  } finally {
    await snapshotHolder.end().catch(() => undefined);
  }
}

/** Runs pg_dump, reporting each table whose data it starts; rejects with its stderr on failure. */
function runPgDump(binary: string, args: string[], env: NodeJS.ProcessEnv, options: BackupOptions, onTable: (done: number, table: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'], signal: options.signal });
    let errors = '';
    let done = 0;
    let pending = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const table = /dumping contents of table "([^"]+)"/.exec(line)?.[1];
        if (table) onTable(++done, table);
        else if (!/^pg_dump: (reading|identifying|finding|flagging|saving|dumping|last built-in|executing|processing|creating)/.test(line)) errors += `${line}\n`;
      }
    });
    child.on('error', (error) => reject(error.name === 'AbortError' ? new UserFacingError('Backup stopped; its partial file was removed.') : error));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (!options.signal?.aborted) reject(new UserFacingError(`pg_dump failed (${signal ?? `exit ${code}`}):\n${errors.trim()}`));
    });
  });
}

/** 2026-11-25T17:28:00.123Z → 20261125T172800123Z: sortable, unique per millisecond, safe in file names. */
function fileStamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

