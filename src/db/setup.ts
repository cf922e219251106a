import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { DatabaseConfig } from '../config/database-config.ts';
import { adminOptions } from './connection-options.ts';
import { diagnoseConnectionError } from './connection-diagnosis.ts';
import { loginRoles } from './database-server.ts';
import { UserFacingError } from './errors.ts';
import { runPsqlScript, scriptChecksum } from './psql-runner.ts';
import type { Queryable } from './queryable.ts';
import { applyRolePasswords } from './role-passwords.ts';
import { runVerify, type VerifyReport } from './verify.ts';

/** sql/ of this package: the same files a psql user runs. */
export const SQL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sql');

/** Any constant both setups agree on; advisory locks are per database, so both take it in the maintenance database. */
const SETUP_LOCK_KEY = 7_246_110_001;
const CORE_SCRIPTS = ['01_create_databases.sql', '02_create_core_tables.sql', '03_create_indexes.sql'];
const MIGRATION_NAME = /^\d{4}_[a-z0-9_]+\.sql$/;
const NO_TRANSACTION_MARKER = /^--\s*tradedb:no-transaction\s*$/m;

export interface SetupStep {
  /** Path relative to sql/, as recorded in shared.schema_migrations. */
  script: string;
  checksum: string;
  /** 01 runs in the maintenance database (it creates the others); orchestration/ in the orchestration database; the rest in the trading database. */
  database: 'maintenance' | 'trading' | 'orchestration';
  /** False for scripts marked `-- tradedb:no-transaction` (CREATE DATABASE cannot run in one). */
  transactional: boolean;
  state: 'pending' | 'applied';
}

export interface SetupReport {
  steps: SetupStep[];
  applied: string[];
  passwordsSet: string[];
  verify?: VerifyReport;
  serverVersion: string;
  durationMs: number;
}

export interface SetupOptions {
  dryRun?: boolean;
  log?: (line: string) => void;
  /** Where the scripts are; default the package's sql/. */
  sqlDir?: string;
}

/** psql -v values every script gets, from configuration. */
export function scriptVariables(config: DatabaseConfig): Record<string, string> {
  return {
    trading_db_name: config.trading.database,
    trading_db_user: config.trading.owner.user,
    orchestration_db_name: config.orchestration.database,
    orchestration_db_user: config.orchestration.user,
  };
}

/** 01..03, then sql/migrations/NNNN_name.sql in order, then sql/orchestration/NNNN_name.sql in order. */
export function setupScripts(sqlDir = SQL_DIR): Omit<SetupStep, 'state'>[] {
  const numbered = [...numberedScripts(sqlDir, 'migrations'), ...numberedScripts(sqlDir, 'orchestration')];
  return [...CORE_SCRIPTS, ...numbered].map((script) => {
    const file = path.join(sqlDir, script);
    return {
      script,
      checksum: scriptChecksum(file),
      database: script.startsWith('01_') ? 'maintenance' : script.startsWith('orchestration/') ? 'orchestration' : 'trading',
      transactional: !NO_TRANSACTION_MARKER.test(readFileSync(file, 'utf8')),
    };
  });
}

/** `folder/NNNN_name.sql` for every .sql file of sql/<folder>, in name order; misnamed files are refused. */
function numberedScripts(sqlDir: string, folder: string): string[] {
  const dir = path.join(sqlDir, folder);
  const files = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.sql')).sort() : [];
  const misnamed = files.filter((name) => !MIGRATION_NAME.test(name));
  if (misnamed.length > 0) {
    throw new UserFacingError(`Migration files must be named NNNN_lower_case_name.sql; rename: ${misnamed.map((name) => `sql/${folder}/${name}`).join(', ')}`);
  }
  return files.map((name) => `${folder}/${name}`);
}

/**
 * Option 1: applies sql/01..03 and then sql/migrations/ in order, each at most once, under an
 * advisory lock so that concurrent setups serialise (the second finds the work done). Records
 * each script with its checksum; refuses to go on if an applied script has changed since.
 * Then creates any missing monthly partitions around today, sets configured role passwords and
 * runs 04 to verify the result.
 */
export async function runSetup(config: DatabaseConfig, options: SetupOptions = {}): Promise<SetupReport> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const sqlDir = options.sqlDir ?? SQL_DIR;
  const variables = scriptVariables(config);
  const maintenance = await connectAdmin(config, config.server.maintenanceDatabase);
  let trading: pg.Client | undefined;
  try {
    const serverVersion = await assertUsableServer(maintenance, config);
    if (!options.dryRun) await maintenance.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK_KEY]);

    const scripts = setupScripts(sqlDir);
    trading = await connectTradingIfExists(config, maintenance);
    const recorded = trading ? await recordedChecksums(trading) : new Map<string, string>();
    assertUnchanged(scripts, recorded);
    const steps: SetupStep[] = scripts.map((script) => ({ ...script, state: recorded.has(script.script) ? 'applied' : 'pending' }));
    if (options.dryRun) return { steps, applied: [], passwordsSet: [], serverVersion, durationMs: performance.now() - started };

    const applied: string[] = [];
    for (const step of steps.filter((candidate) => candidate.state === 'pending')) {
      const stepStarted = performance.now();
      log(`Applying ${step.script} ...`);
      if (step.database === 'maintenance') {
        await runPsqlScript(maintenance, path.join(sqlDir, step.script), { variables });
        trading ??= await connectAdmin(config, config.trading.database);
        await runPsqlScript(trading, path.join(sqlDir, 'include/migration-ledger.sql'), { variables });
        await record(trading, step, stepStarted);
      } else if (step.database === 'orchestration') {
        // Recorded in the trading database's ledger (one ledger per installation); idempotent,
        // so a run stopped between the two databases is simply applied again.
        const orchestration = await connectAdmin(config, config.orchestration.database);
        try {
          await applyInTransaction(orchestration, step, path.join(sqlDir, step.script), variables, stepStarted, () => undefined);
        } finally {
          await orchestration.end();
        }
        trading ??= await connectAdmin(config, config.trading.database);
        await record(trading, step, stepStarted);
      } else {
        trading ??= await connectAdmin(config, config.trading.database);
        await applyInTransaction(trading, step, path.join(sqlDir, step.script), variables, stepStarted);
      }
      applied.push(step.script);
    }

    await runPsqlScript(trading!, path.join(sqlDir, 'include/ensure-partitions.sql'), { variables });
    await runPsqlScript(trading!, path.join(sqlDir, 'include/ensure-log-partitions.sql'), { variables });
    const passwordsSet = await applyRolePasswords(maintenance, loginRoles(config));
    const verify = await runVerify(trading!, variables, sqlDir);
    return { steps, applied, passwordsSet, verify, serverVersion, durationMs: performance.now() - started };
  } finally {
    await trading?.end().catch(() => undefined);
    // Closing the session releases the advisory lock.
    await maintenance.end().catch(() => undefined);
  }
}

/** Runs a script in one transaction with `recordIt` (by default its ledger row in the same database). */
async function applyInTransaction(
  db: pg.Client,
  step: SetupStep,
  file: string,
  variables: Record<string, string>,
  started: number,
  recordIt: () => unknown = () => record(db, step, started),
): Promise<void> {
  if (!step.transactional) {
    await runPsqlScript(db, file, { variables });
    await recordIt();
    return;
  }
  await db.query('BEGIN');
  try {
    await runPsqlScript(db, file, { variables });
    await recordIt();
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function record(db: pg.Client, step: SetupStep, started: number): Promise<void> {
  await db.query('INSERT INTO shared.schema_migrations (script, checksum, duration_ms) VALUES ($1, $2, $3)', [
    step.script,
    step.checksum,
    Math.round(performance.now() - started),
  ]);
}

/** A superuser session on `database`, or a one-paragraph error saying what to fix. */
export async function connectAdmin(config: DatabaseConfig, database: string): Promise<pg.Client> {
  const client = new pg.Client(adminOptions(config, database));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw diagnoseConnectionError(error, {
      host: config.server.host,
      port: config.server.port,
      user: config.server.admin.user,
      database,
      configuredBy: config.server.mode === 'embedded' ? 'TRADEDB_EMBEDDED_PORT' : 'POSTGRES_HOST/POSTGRES_PORT (or DATABASE_URL)',
    });
  }
  return client;
}

/** Returns the server version; refuses servers older than 15 and non-superusers. */
export async function assertUsableServer(db: Queryable, config: DatabaseConfig): Promise<string> {
  const { rows } = await db.query<{ version: string; version_num: string; superuser: boolean }>(
    "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS version_num, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser",
  );
  const row = rows[0]!;
  if (Number(row.version_num) < 150000) {
    throw new UserFacingError(
      `PostgreSQL ${row.version} at ${config.server.host}:${config.server.port} is too old: tradedb needs PostgreSQL 15 or newer. Upgrade the server, or unset POSTGRES_HOST to use the embedded PostgreSQL 15.`,
    );
  }
  if (!row.superuser) {
    throw new UserFacingError(
      `tradedb setup connects as "${config.server.admin.user}", which is not a superuser; creating databases, roles and extensions needs one. Set POSTGRES_USER (or DATABASE_URL) to a superuser for setup; nothing else runs as it.`,
    );
  }
  return row.version;
}

async function connectTradingIfExists(config: DatabaseConfig, maintenance: pg.Client): Promise<pg.Client | undefined> {
  const { rowCount } = await maintenance.query('SELECT 1 FROM pg_database WHERE datname = $1', [config.trading.database]);
  return rowCount ? connectAdmin(config, config.trading.database) : undefined;
}

async function recordedChecksums(trading: pg.Client): Promise<Map<string, string>> {
  const { rows: exists } = await trading.query<{ present: boolean }>("SELECT to_regclass('shared.schema_migrations') IS NOT NULL AS present");
  if (!exists[0]!.present) return new Map();
  const { rows } = await trading.query<{ script: string; checksum: string }>('SELECT script, checksum FROM shared.schema_migrations');
  return new Map(rows.map((row) => [row.script, row.checksum]));
}

function assertUnchanged(scripts: Omit<SetupStep, 'state'>[], recorded: Map<string, string>): void {
  const changed = scripts.filter((script) => recorded.has(script.script) && recorded.get(script.script) !== script.checksum);
  if (changed.length === 0) return;
  throw new UserFacingError(
    `Refusing to set up: ${changed.map((script) => `sql/${script.script}`).join(', ')} changed after ${changed.length === 1 ? 'it was' : 'they were'} applied ` +
      `(checksum recorded in shared.schema_migrations differs). An applied script must never change: restore it and put the change in a new sql/migrations/NNNN_name.sql (sql/orchestration/ for the orchestration database).`,
  );
}
