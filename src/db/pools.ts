import pg from 'pg';
import { SERVICE_NAMES, type DatabaseConfig, type ServiceName } from '../config/database-config.ts';
import { connectionOptions } from './connection-options.ts';
import { keepConnectionsOnRefusal } from './pool-query.ts';

/** One pool per service, each connecting as that service's role, plus the orchestration pool. */
export interface Pools {
  services: Record<ServiceName, pg.Pool>;
  orchestration: pg.Pool;
  /** Total, idle and waiting clients of every pool, by pool name. */
  stats(): Record<string, PoolStats>;
  /** Waits for checked-out clients to be released and closes every connection. */
  close(): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/**
 * Creates the pools (lazily: no connection is opened until the first query). A service's
 * connections use its own role, `search_path` = its schema then `shared`, and
 * `application_name` `tradedb:<service>` so pg_stat_activity shows who holds what. A statement
 * the server refuses does not cost a service pool its connection (keepConnectionsOnRefusal).
 */
export function createPools(config: DatabaseConfig, onError: (pool: string, error: Error) => void = () => undefined): Pools {
  const services = Object.fromEntries(
    SERVICE_NAMES.map((service) => {
      const settings = config.services[service];
      const pool = keepConnectionsOnRefusal(
        new pg.Pool(
          connectionOptions(config, settings, config.trading.database, {
            applicationName: `tradedb:${service}`,
            searchPath: [settings.schema, 'shared'],
            pool: settings.pool,
          }),
        ),
        service,
      );
      return [service, pool];
    }),
  ) as Record<ServiceName, pg.Pool>;

  const orchestrationSettings = connectionOptions(config, config.orchestration, config.orchestration.database, {
    applicationName: 'tradedb:orchestration',
    pool: config.orchestration.pool,
  });
  const orchestration = new pg.Pool(
    config.orchestration.url ? { ...orchestrationSettings, connectionString: config.orchestration.url, host: undefined, port: undefined, user: undefined, password: undefined, database: undefined } : orchestrationSettings,
  );

  const all: Record<string, pg.Pool> = { ...services, orchestration };
  // An idle client whose server connection dies emits 'error' on its pool; unhandled, it
  // would crash the process. The pool has already discarded the client.
  // A checked-out client whose connection dies emits 'error' on itself, which would crash the
  // process just the same: every client gets a handler as it connects.
  for (const [name, pool] of Object.entries(all)) {
    pool.on('error', (error) => onError(name, error));
    pool.on('connect', (client) => client.on('error', (error) => onError(name, error)));
  }

  return {
    services,
    orchestration,
    stats: () =>
      Object.fromEntries(
        Object.entries(all).map(([name, pool]) => [name, { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max }]),
      ),
    close: async () => {
      await Promise.all(Object.values(all).map(endPool));
    },
  };
}

/**
 * pool.end() resolves once every client is asked to close, not once it has: wait for each
 * client's 'remove' (emitted after its connection is closed), so that stopping the server
 * right after never cuts a session off mid-goodbye.
 */
async function endPool(pool: pg.Pool): Promise<void> {
  const open = pool.totalCount;
  let closed = 0;
  const allClosed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on('remove', () => {
      closed += 1;
      if (closed >= open) resolve();
    });
  });
  await pool.end();
  await allClosed;
}
