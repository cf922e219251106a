import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config/load-config.ts';
import { openDatabaseServer, type DatabaseServer } from '../../src/db/database-server.ts';
import { connectAdmin, runSetup } from '../../src/db/setup.ts';
import type { DatabaseConfig } from '../../src/config/database-config.ts';
import { TEST_DATABASE_PREFIX, type TestServerInfo } from './test-server.ts';

/** Test server passwords for roles when the server asks for them (embedded: scram). */
const TEST_ROLE_PASSWORD = 'tradedb-test-only';

/**
 * Chooses the server the tests run against — the one POSTGRES_HOST names, else a local server
 * on 127.0.0.1:5432, else an embedded one — and builds the template databases once.
 */
export default async function globalSetup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: DatabaseServer | undefined;
  let env: Record<string, string>;
  let kind: TestServerInfo['kind'];
  if (process.env.POSTGRES_HOST || process.env.DATABASE_URL) {
    kind = 'external';
    env = Object.fromEntries(
      Object.entries(process.env).filter((entry): entry is [string, string] => /^(POSTGRES_|DATABASE_URL|SERVICE_DB_PASSWORD|TRADING_DB_PASSWORD|ORCHESTRATION_DB_PASSWORD|READONLY_DB_PASSWORD)/.test(entry[0]) && entry[1] !== undefined),
    );
  } else if (await reachable({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })) {
    kind = 'local';
    env = { POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: '5432', POSTGRES_USER: 'postgres' };
  } else {
    kind = 'embedded';
    const config = loadConfig({ env: { TRADEDB_DATA_DIR: path.join(os.tmpdir(), 'tradedb-test-server'), TRADEDB_EMBEDDED_PORT: '54339' }, envFile: false });
    embedded = await openDatabaseServer(config.database);
    const admin = embedded.config.server.admin;
    env = {
      POSTGRES_HOST: '127.0.0.1',
      POSTGRES_PORT: String(embedded.config.server.port),
      POSTGRES_USER: admin.user,
      POSTGRES_PASSWORD: admin.password ?? '',
      POSTGRES_SSLMODE: 'disable',
      TRADING_DB_PASSWORD: TEST_ROLE_PASSWORD,
      SERVICE_DB_PASSWORD: TEST_ROLE_PASSWORD,
      ORCHESTRATION_DB_PASSWORD: TEST_ROLE_PASSWORD,
    };
  }

  const prefix = `${TEST_DATABASE_PREFIX}${Date.now().toString(36)}_`;
  const templateTrading = `${prefix}tpl_trading`;
  const templateOrchestration = `${prefix}tpl_orchestration`;
  const config = loadConfig({ env: { ...env, TRADING_DB_NAME: templateTrading, ORCHESTRATION_DB_NAME: templateOrchestration }, envFile: false });
  await dropDatabases(config.database, (name) => name.startsWith(TEST_DATABASE_PREFIX) && isStale(name));
  const report = await runSetup(config.database);
  if (!report.verify?.ok) throw new Error(`The test template failed verification: ${report.verify?.failure}`);

  const info: TestServerInfo = { env, templateTrading, templateOrchestration, prefix, kind };
  project.provide('tradedbTest', info);
  console.log(`tradedb tests run on the ${kind} server at ${env.POSTGRES_HOST}:${env.POSTGRES_PORT}; template set up in ${(report.durationMs / 1000).toFixed(2)} s`);

  return async () => {
    await dropDatabases(config.database, (name) => name.startsWith(prefix));
    await embedded?.stop();
  };
}

async function reachable(options: pg.ClientConfig): Promise<boolean> {
  const client = new pg.Client({ ...options, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
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
