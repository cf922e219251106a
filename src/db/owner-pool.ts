import pg from 'pg';
import type { DatabaseConfig } from '../config/database-config.ts';
import { connectionOptions } from './connection-options.ts';
import { keepConnectionsOnRefusal } from './pool-query.ts';

/**
 * A small pool of the owner role (trading_user) on the trading database, for the few writes no
 * service role may make: accounts and system configuration in `shared`. Not a superuser.
 */
export function createOwnerPool(config: DatabaseConfig, onError: (error: Error) => void = () => undefined): pg.Pool {
  const pool = keepConnectionsOnRefusal(
    new pg.Pool({ ...connectionOptions(config, config.trading.owner, config.trading.database, { applicationName: 'tradedb:owner', searchPath: ['shared'] }), max: 2 }),
    'owner',
  );
  // A connection that dies (server restart, pg_terminate_backend) must not crash the process;
  // the pool has discarded it, and the query that was using it fails on its own.
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}
