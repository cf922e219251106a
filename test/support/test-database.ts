import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { DatabaseConfig } from '../../src/config/database-config.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import path from 'node:path';
import { runPsqlScript } from '../../src/db/psql-runner.ts';
import { connectAdmin, scriptVariables, SQL_DIR } from '../../src/db/setup.ts';
import { dropDatabases } from './drop-databases.ts';

export { dropDatabases };

export interface TestDatabases {
  /** Configuration pointing at this file's own trading and orchestration databases. */
  config: DatabaseConfig;
  /** The same, as environment variables, for running the CLI. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** Environment for the test server with fresh, unique database names (nothing created). */
export function freshDatabaseEnv(label: string): Record<string, string> {
  const { env, prefix } = inject('tradedbTest');
  const suffix = `${label}_${randomBytes(3).toString('hex')}`;
  return { ...env, TRADING_DB_NAME: `${prefix}${suffix}`, ORCHESTRATION_DB_NAME: `${prefix}${suffix}_orch` };
}

export function configFromEnv(env: Record<string, string>): DatabaseConfig {
  return loadConfig({ env, envFile: false }).database;
}

/**
 * Clones the run's template databases (built once by global setup) into databases of this
 * test file's own: fast, and no file sees another's rows.
 */
export async function cloneTemplateDatabases(label: string): Promise<TestDatabases> {
  const { templateTrading, templateOrchestration } = inject('tradedbTest');
  const env = freshDatabaseEnv(label);
  const config = configFromEnv(env);
  const admin = await connectAdmin(config, config.server.maintenanceDatabase);
  try {
    await createFromTemplate(admin, config.trading.database, templateTrading, config.trading.owner.user);
    await createFromTemplate(admin, config.orchestration.database, templateOrchestration, config.orchestration.user);
    // A copy does not inherit database-level grants; 01 gives them (and changes nothing else).
    await runPsqlScript(admin, path.join(SQL_DIR, '01_create_databases.sql'), { variables: scriptVariables(config) });
  } finally {
    await admin.end();
  }
  return { config, env, drop: () => dropDatabases(config) };
}

async function createFromTemplate(admin: Awaited<ReturnType<typeof connectAdmin>>, name: string, template: string, owner: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}" OWNER "${owner}"`);
      return;
    } catch (error) {
      // 55006: another session is copying the same template at this instant; wait and retry.
      if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
