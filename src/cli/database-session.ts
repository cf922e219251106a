import type pg from 'pg';
import { loadConfig, type Config } from '../config/load-config.ts';
import { openDatabaseServer, type DatabaseServer } from '../db/database-server.ts';
import type { DatabaseConfig } from '../config/database-config.ts';
import { UserFacingError } from '../db/errors.ts';
import { createOwnerPool } from '../db/owner-pool.ts';
import { createPools, type Pools } from '../db/pools.ts';
import { connectAdmin } from '../db/setup.ts';
import { startProcessLogging, type ConsoleMode } from '../services/logging/process-logging.ts';

/** What a command gets: the validated configuration and the opened server. */
export interface DatabaseSession {
  config: Config;
  server: DatabaseServer;
}

/**
 * Loads the configuration, opens the server (starting the embedded one if that is the
 * default), runs `work`, and always stops a server this process started.
 */
export async function withDatabaseServer<T>(work: (session: DatabaseSession) => Promise<T>, log: (line: string) => void = (line) => console.error(line)): Promise<T> {
  const config = loadConfig();
  const server = await openDatabaseServer(config.database, log);
  try {
    return await work({ config, server });
  } finally {
    await server.stop();
  }
}

/**
 * Like withDatabaseServer, with the per-service pools open for `work` and closed after it, so a
 * command reaches each schema as its service's least-privilege role. The services' log lines go
 * to logging.system_logs (and to the console as `consoleMode` says) while `work` runs.
 */
export async function withServicePools<T>(work: (pools: Pools, session: DatabaseSession) => Promise<T>, consoleMode: ConsoleMode = 'command'): Promise<T> {
  return withDatabaseServer(async (session) => {
    if (session.server.embedded) await requireTradingDatabase(session.server.config);
    const pools = createPools(session.server.config, (pool, error) => console.error(`pool ${pool}: ${error.message}`));
    const logging = startProcessLogging(session.config.logging, pools.services.logging, consoleMode);
    try {
      return await work(pools, session);
    } finally {
      await logging.stop();
      await pools.close();
    }
  });
}

/**
 * Like withServicePools, with a small pool of the owner role as well, for the commands that
 * act as the owner (accounts, the kill switch, maintenance, the audit trail, secrets, doctor).
 */
export async function withOwnerPool<T>(work: (owner: pg.Pool, pools: Pools, session: DatabaseSession) => Promise<T>): Promise<T> {
  return withServicePools(async (pools, session) => {
    const owner = createOwnerPool(session.server.config);
    try {
      return await work(owner, pools, session);
    } finally {
      await owner.end();
    }
  });
}

/**
 * On a fresh embedded server the service roles do not exist yet, and the server answers a
 * service's login with "password authentication failed": say what to do instead.
 */
async function requireTradingDatabase(config: DatabaseConfig): Promise<void> {
  const admin = await connectAdmin(config, config.server.maintenanceDatabase);
  try {
    const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [config.trading.database]);
    if (rows.length === 0) {
      throw new UserFacingError(`The trading database ${config.trading.database} does not exist yet: run \`npx tradedb setup\` (or \`npm start\`) first.`);
    }
  } finally {
    await admin.end();
  }
}
