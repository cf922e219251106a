import { appendFileSync, cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../../src/config/database-config.ts';
import { UserFacingError } from '../../src/db/errors.ts';
import { PsqlScriptError } from '../../src/db/psql-runner.ts';
import { connectAdmin, runSetup, scriptVariables, SQL_DIR } from '../../src/db/setup.ts';
import { runVerify } from '../../src/db/verify.ts';
import { runCli } from '../support/run-cli.ts';
import { runPsql, schemaDump } from '../support/schema-dump.ts';
import { cloneTemplateDatabases, configFromEnv, dropDatabases, freshDatabaseEnv } from '../support/test-database.ts';

const created: DatabaseConfig[] = [];
function fresh(label: string): DatabaseConfig {
  const config = configFromEnv(freshDatabaseEnv(label));
  created.push(config);
  return config;
}

const numbered = (folder: string) => readdirSync(path.join(SQL_DIR, folder)).filter((name) => name.endsWith('.sql')).sort().map((name) => `${folder}/${name}`);
/** The trading database's migrations, then the orchestration database's scripts, as setup applies them. */
const TRADING_MIGRATIONS = numbered('migrations');
const ORCHESTRATION_SCRIPTS = numbered('orchestration');
const MIGRATIONS = [...TRADING_MIGRATIONS, ...ORCHESTRATION_SCRIPTS];

/** Option 2, exactly as the README shows: psql -v ON_ERROR_STOP=1 -f sql/0N_....sql, the migrations in order (orchestration/ in that database), then 04. */
async function psqlRoute(config: DatabaseConfig, scripts = ['01_create_databases.sql', '02_create_core_tables.sql', '03_create_indexes.sql', ...MIGRATIONS, '04_verify_setup.sql']) {
  const outputs: string[] = [];
  for (const script of scripts) {
    const database = script.startsWith('01_') ? config.server.maintenanceDatabase : script.startsWith('orchestration/') ? config.orchestration.database : config.trading.database;
    const result = await runPsql(config, path.join(SQL_DIR, script), database, scriptVariables(config));
    expect(result.code, `${script}: ${result.output}`).toBe(0);
    outputs.push(result.output);
  }
  return outputs;
}

async function ledger(config: DatabaseConfig): Promise<string[]> {
  const admin = await connectAdmin(config, config.trading.database);
  try {
    return (await admin.query<{ script: string }>('SELECT script FROM shared.schema_migrations ORDER BY script')).rows.map((row) => row.script);
  } finally {
    await admin.end();
  }
}

function copyOfSqlDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-sql-'));
  cpSync(SQL_DIR, dir, { recursive: true });
  return dir;
}

afterAll(async () => {
  for (const config of created) await dropDatabases(config);
});

describe('Option 1 and Option 2 on an empty server', () => {
  let viaPsql: DatabaseConfig;
  let viaSetup: DatabaseConfig;

  beforeAll(async () => {
    viaPsql = fresh('psql');
    viaSetup = fresh('setup');
    await psqlRoute(viaPsql);
    const report = await runSetup(viaSetup);
    expect(report.applied).toEqual(['01_create_databases.sql', '02_create_core_tables.sql', '03_create_indexes.sql', ...MIGRATIONS]);
    expect(report.verify?.ok).toBe(true);
  });

  it('end in the same schema (pg_dump --schema-only of both databases)', async () => {
    const [psqlTrading, setupTrading] = await Promise.all([schemaDump(viaPsql, viaPsql.trading.database), schemaDump(viaSetup, viaSetup.trading.database)]);
    expect(setupTrading).toContain('CREATE TABLE execution.orders');
    expect(setupTrading).toEqual(psqlTrading);
    const [psqlOrchestration, setupOrchestration] = await Promise.all([
      schemaDump(viaPsql, viaPsql.orchestration.database),
      schemaDump(viaSetup, viaSetup.orchestration.database),
    ]);
    expect(setupOrchestration).toContain('CREATE TABLE orchestration.flow_runs');
    expect(setupOrchestration).toEqual(psqlOrchestration);
  });

  it('a second `tradedb setup` applies nothing and changes nothing', async () => {
    const before = await schemaDump(viaSetup, viaSetup.trading.database);
    const report = await runSetup(viaSetup);
    expect(report.applied).toEqual([]);
    expect(report.steps.every((step) => step.state === 'applied')).toBe(true);
    expect(report.verify?.ok).toBe(true);
    expect(await schemaDump(viaSetup, viaSetup.trading.database)).toEqual(before);
  });

  it('running the psql scripts again raises nothing and changes nothing', async () => {
    const before = await schemaDump(viaPsql, viaPsql.trading.database);
    await psqlRoute(viaPsql);
    expect(await schemaDump(viaPsql, viaPsql.trading.database)).toEqual(before);
  });

  it('`tradedb setup` over a psql-built database records the scripts without changing the schema', async () => {
    const before = await schemaDump(viaPsql, viaPsql.trading.database);
    const report = await runSetup(viaPsql);
    expect(report.applied).toHaveLength(3 + MIGRATIONS.length);
    expect(await ledger(viaPsql)).toEqual(['01_create_databases.sql', '02_create_core_tables.sql', '03_create_indexes.sql', ...MIGRATIONS]);
    expect(await schemaDump(viaPsql, viaPsql.trading.database)).toEqual(before);
  });
});

describe('04_verify_setup.sql', () => {
  it('fails naming a dropped table and a dropped index, through psql, the API and `tradedb verify`', async () => {
    const clone = await cloneTemplateDatabases('verify');
    created.push(clone.config);
    const admin = await connectAdmin(clone.config, clone.config.trading.database);
    try {
      await admin.query('DROP TABLE data_ingestion.data_quality_logs');
      await admin.query('DROP INDEX execution.idx_trades_order_id');

      const psql = await runPsql(clone.config, path.join(SQL_DIR, '04_verify_setup.sql'), clone.config.trading.database, scriptVariables(clone.config));
      expect(psql.code).not.toBe(0);
      expect(psql.output).toContain('data_ingestion.data_quality_logs');
      expect(psql.output).toContain('idx_trades_order_id');

      const report = await runVerify(admin, scriptVariables(clone.config), SQL_DIR);
      expect(report.ok).toBe(false);
      const missing = report.lines.flatMap((line) => line.missing);
      expect(missing).toContain('data_ingestion.data_quality_logs');
      expect(missing.some((name) => name.includes('idx_trades_order_id'))).toBe(true);

      const cli = await runCli(['verify'], clone.env);
      expect(cli.code).toBe(1);
      expect(cli.stdout).toMatch(/FAIL .*data_ingestion\.data_quality_logs/);
    } finally {
      await admin.end();
    }
  });

  it('passes on a complete database and names no missing object', async () => {
    const clone = await cloneTemplateDatabases('verify_ok');
    created.push(clone.config);
    const cli = await runCli(['verify'], clone.env);
    expect(cli.stdout).toMatch(/All \d+ checks passed/);
    expect(cli.code).toBe(0);
  });
});

describe('tradedb setup', () => {
  it('two setups started at once both succeed and the work is done once', async () => {
    const config = fresh('concurrent');
    const [first, second] = await Promise.all([runSetup(config), runSetup(config)]);
    expect([first.applied.length, second.applied.length].sort()).toEqual([0, 3 + MIGRATIONS.length]);
    expect(first.verify?.ok && second.verify?.ok).toBe(true);
    expect(await ledger(config)).toHaveLength(3 + MIGRATIONS.length);
  });

  it('--dry-run lists the scripts and creates nothing', async () => {
    const config = fresh('dryrun');
    const report = await runSetup(config, { dryRun: true });
    expect(report.steps.map((step) => `${step.state} ${step.script}`)).toEqual([
      'pending 01_create_databases.sql',
      'pending 02_create_core_tables.sql',
      'pending 03_create_indexes.sql',
      ...MIGRATIONS.map((script) => `pending ${script}`),
    ]);
    const admin = await connectAdmin(config, config.server.maintenanceDatabase);
    try {
      expect((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [config.trading.database])).rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('applies sql/migrations/ in order after the core scripts, each once', async () => {
    const sqlDir = copyOfSqlDir();
    writeFileSync(path.join(sqlDir, 'migrations/9002_second.sql'), 'ALTER TABLE shared.system_config ADD COLUMN IF NOT EXISTS note_two text;\n');
    writeFileSync(path.join(sqlDir, 'migrations/9001_first.sql'), "ALTER TABLE shared.system_config ADD COLUMN IF NOT EXISTS note_one text DEFAULT 'x';\n");
    const config = fresh('migrations');
    const report = await runSetup(config, { sqlDir });
    expect(report.applied.slice(3)).toEqual([...TRADING_MIGRATIONS, 'migrations/9001_first.sql', 'migrations/9002_second.sql', ...ORCHESTRATION_SCRIPTS]);
    expect(await ledger(config)).toContain('migrations/9002_second.sql');
    expect((await runSetup(config, { sqlDir })).applied).toEqual([]);
  });

  it('rolls back a failing migration, records nothing of it, and names its file and line', async () => {
    const sqlDir = copyOfSqlDir();
    writeFileSync(path.join(sqlDir, 'migrations/9001_broken.sql'), 'CREATE TABLE shared.half_done (id int);\n\nALTER TABLE shared.no_such_table ADD COLUMN x int;\n');
    const config = fresh('broken');
    const failure = await runSetup(config, { sqlDir }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PsqlScriptError);
    expect((failure as Error).message).toMatch(/9001_broken\.sql:3: relation "shared\.no_such_table" does not exist/);
    const admin = await connectAdmin(config, config.trading.database);
    try {
      expect((await admin.query("SELECT to_regclass('shared.half_done') AS t")).rows[0].t).toBeNull();
    } finally {
      await admin.end();
    }
    // Setup stops at the failure: nothing after it (the orchestration scripts) runs either.
    expect(await ledger(config)).toEqual(['01_create_databases.sql', '02_create_core_tables.sql', '03_create_indexes.sql', ...TRADING_MIGRATIONS]);
  });

  it('refuses to run when an applied script has changed, saying which and what to do', async () => {
    const sqlDir = copyOfSqlDir();
    const config = fresh('changed');
    await runSetup(config, { sqlDir });
    appendFileSync(path.join(sqlDir, '03_create_indexes.sql'), '\nCREATE INDEX IF NOT EXISTS idx_sneaky ON shared.accounts (name);\n');
    const failure = await runSetup(config, { sqlDir }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UserFacingError);
    expect((failure as Error).message).toMatch(/sql\/03_create_indexes\.sql changed after it was applied.*sql\/migrations\//s);
    const admin = await connectAdmin(config, config.trading.database);
    try {
      expect((await admin.query("SELECT to_regclass('shared.idx_sneaky') AS i")).rows[0].i).toBeNull();
    } finally {
      await admin.end();
    }
  });

  it('recreates a missing partition of the current month, and of today for the logs, on every run (a database set up long ago)', async () => {
    const clone = await cloneTemplateDatabases('partitions');
    created.push(clone.config);
    const admin = await connectAdmin(clone.config, clone.config.trading.database);
    try {
      const { month, day } = (await admin.query<{ month: string; day: string }>("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMM') AS month, to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') AS day")).rows[0]!;
      const missing = [`data_ingestion.market_data_p${month}`, `logging.system_logs_p${day}`];
      for (const partition of missing) await admin.query(`DROP TABLE ${partition}`);
      // A log line written while today's partition was missing lands in the default partition ...
      await admin.query("INSERT INTO logging.system_logs (service, level, message) VALUES ('test', 'info', 'while missing')");
      const report = await runSetup(clone.config);
      expect(report.applied).toEqual([]);
      expect(report.verify?.ok).toBe(true);
      const { rows } = await admin.query("SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = ANY($1::regclass[])", [missing]);
      expect(rows).toEqual([{ owner: 'trading_user' }, { owner: 'trading_user' }]);
      // ... and moves into the day's partition when setup creates it.
      const moved = await admin.query(`SELECT message FROM logging.system_logs_p${day}`);
      expect(moved.rows).toEqual([{ message: 'while missing' }]);
    } finally {
      await admin.end();
    }
  });

  it('refuses a misnamed migration file by name', async () => {
    const sqlDir = copyOfSqlDir();
    writeFileSync(path.join(sqlDir, 'migrations/add-stuff.sql'), 'SELECT 1;');
    await expect(runSetup(fresh('misnamed'), { sqlDir, dryRun: true })).rejects.toThrow(/rename: sql\/migrations\/add-stuff\.sql/);
  });
});
