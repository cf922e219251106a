import type { TestProject } from 'vitest/node';
import type { DatabaseConfig } from '../../src/config/database-config.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { connectAdmin, runSetup } from '../../src/db/setup.ts';
import { chooseServer } from './choose-server.ts';
import { TEST_DATABASE_PREFIX, type TestServerInfo } from './test-server.ts';

/** Picks the test server and builds the template databases once for the whole run. */
export default async function globalSetup(project: TestProject): Promise<() => Promise<void>> {
  const server = await chooseServer();
  const prefix = `${TEST_DATABASE_PREFIX}${Date.now().toString(36)}_`;
  const templateTrading = `${prefix}tpl_trading`;
  const templateOrchestration = `${prefix}tpl_orchestration`;
  const config = loadConfig({ env: { ...server.env, TRADING_DB_NAME: templateTrading, ORCHESTRATION_DB_NAME: templateOrchestration }, envFile: false });
  await dropDatabases(config.database, (name) => name.startsWith(TEST_DATABASE_PREFIX) && isStale(name));
  const report = await runSetup(config.database);
  if (!report.verify?.ok) throw new Error(`The test template failed verification: ${report.verify?.failure}`);

  const info: TestServerInfo = { env: server.env, templateTrading, templateOrchestration, prefix, kind: server.kind };
  project.provide('tradedbTest', info);
  console.log(`tradedb tests run on the ${server.kind} server at ${server.env.POSTGRES_HOST}:${server.env.POSTGRES_PORT}; template set up in ${(report.durationMs / 1000).toFixed(2)} s`);

  return async () => {
    await dropDatabases(config.database, (name) => name.startsWith(prefix));
    await server.stop();
  };
}

/** A run's databases are stale once the run that made them is over an hour old (it crashed). */
function isStale(name: string): boolean {
  const started = parseInt(name.slice(TEST_DATABASE_PREFIX.length).split('_')[0] ?? '', 36);
  return Number.isFinite(started) && Date.now() - started > 60 * 60 * 1000;
}

async function dropDatabases(config: DatabaseConfig, matches: (name: string) => boolean): Promise<void> {
  const admin = await connectAdmin(config, config.server.maintenanceDatabase);
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE NOT datistemplate');
    for (const { datname } of rows.filter((row) => matches(row.datname))) {
      await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}
