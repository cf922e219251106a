import pg from 'pg';
import type { DatabaseConfig } from '../config/database-config.ts';
import { connectionOptions } from './connection-options.ts';

/**
 * A small pool of the owner role (trading_user) on the trading database, for the few writes no
 * service role may make: accounts and system configuration in `shared`. Not a superuser.
 */
export function createOwnerPool(config: DatabaseConfig): pg.Pool {
  return new pg.Pool({ ...connectionOptions(config, config.trading.owner, config.trading.database, { applicationName: 'tradedb:owner', searchPath: ['shared'] }), max: 2 });
}
