import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config/load-config.ts';
import { openDatabaseServer } from '../../src/db/database-server.ts';
import type { TestServerInfo } from './test-server.ts';

/** Role passwords on a server that asks for them (the embedded one uses scram). */
const TEST_ROLE_PASSWORD = 'tradedb-test-only';

export interface ChosenServer {
  kind: TestServerInfo['kind'];
  /** Environment pointing tradedb at it, without database names. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The server tests and benchmarks run against: the one POSTGRES_HOST (or DATABASE_URL) names,
 * else a local server at 127.0.0.1:5432, else an embedded one started for the run.
 */
export async function chooseServer(): Promise<ChosenServer> {
  if (process.env.POSTGRES_HOST || process.env.DATABASE_URL) {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] =>
          entry[1] !== undefined && /^(POSTGRES_|DATABASE_URL$|SERVICE_DB_PASSWORD$|TRADING_DB_PASSWORD$|ORCHESTRATION_DB_PASSWORD$|READONLY_DB_PASSWORD$)/.test(entry[0]),
      ),
    );
    return { kind: 'external', env, stop: async () => undefined };
  }
  if (await reachable({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })) {
    return { kind: 'local', env: { POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: '5432', POSTGRES_USER: 'postgres' }, stop: async () => undefined };
  }
  const config = loadConfig({ env: { TRADEDB_DATA_DIR: path.join(os.tmpdir(), 'tradedb-test-server'), TRADEDB_EMBEDDED_PORT: '54339' }, envFile: false });
  const server = await openDatabaseServer(config.database);
  const admin = server.config.server.admin;
  return {
    kind: 'embedded',
    stop: () => server.stop(),
    env: {
      POSTGRES_HOST: '127.0.0.1',
      POSTGRES_PORT: String(server.config.server.port),
      POSTGRES_USER: admin.user,
      POSTGRES_PASSWORD: admin.password ?? '',
      POSTGRES_SSLMODE: 'disable',
      TRADING_DB_PASSWORD: TEST_ROLE_PASSWORD,
      SERVICE_DB_PASSWORD: TEST_ROLE_PASSWORD,
      ORCHESTRATION_DB_PASSWORD: TEST_ROLE_PASSWORD,
    },
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
