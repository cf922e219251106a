import type pg from 'pg';
import type { DatabaseConfig, PoolSettings, RoleCredentials } from '../config/database-config.ts';

/** TLS settings for node-postgres from POSTGRES_SSLMODE. */
function ssl(config: DatabaseConfig): pg.ClientConfig['ssl'] {
  switch (config.server.sslmode) {
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-full':
      return { rejectUnauthorized: true };
    default:
      // 'prefer' cannot be expressed in node-postgres: plain on loopback, as PostgreSQL's own default behaves there.
      return false;
  }
}

/** Connection settings for `role` on `database` of the configured server. */
export function connectionOptions(
  config: DatabaseConfig,
  role: RoleCredentials,
  database: string,
  extra: { applicationName: string; searchPath?: string[]; pool?: PoolSettings } = { applicationName: 'tradedb' },
): pg.PoolConfig {
  return {
    host: config.server.host,
    port: config.server.port,
    user: role.user,
    password: role.password,
    database,
    ssl: ssl(config),
    application_name: extra.applicationName,
    // tradedb.actor: who the audit trail records (migration 0010); a transaction may override it
    // with set_config('tradedb.actor', ..., true). Both values are validated free of spaces.
    options: [`-c tradedb.actor=${config.actor}`, ...(extra.searchPath ? [`-c search_path=${extra.searchPath.join(',')}`] : [])].join(' '),
    statement_timeout: extra.pool?.statementTimeoutMs,
    max: extra.pool?.max,
    idleTimeoutMillis: extra.pool?.idleTimeoutMs,
    connectionTimeoutMillis: extra.pool?.connectionTimeoutMs,
  };
}

/** The superuser on the maintenance database (setup only). */
export function adminOptions(config: DatabaseConfig, database = config.server.maintenanceDatabase): pg.PoolConfig {
  return connectionOptions(config, config.server.admin, database, { applicationName: 'tradedb:setup' });
}
