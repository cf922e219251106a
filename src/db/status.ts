import pg from 'pg';
import { SCHEMAS, SERVICE_NAMES, type DatabaseConfig } from '../config/database-config.ts';
import { connectionOptions } from './connection-options.ts';
import { diagnoseConnectionError } from './connection-diagnosis.ts';
import type { PoolStats, Pools } from './pools.ts';

export interface PoolHealth extends PoolStats {
  name: string;
  ok: boolean;
  /** Role and search_path the pool's connections really have, or the error. */
  detail: string;
  latencyMs?: number;
}

export interface DatabaseStatus {
  server: { mode: string; host: string; port: number; version?: string };
  trading: { database: string; ok: boolean; sizeBytes?: number; schemas: { schema: string; sizeBytes: number; tables: number }[]; error?: string };
  orchestration: { database: string; ok: boolean; sizeBytes?: number; error?: string };
  pools: PoolHealth[];
}

/**
 * Checks every pool with one round trip (proving its role and search_path), then reads the
 * server version and sizes through the read-only role: nothing here needs a superuser.
 */
export async function collectStatus(config: DatabaseConfig, pools: Pools): Promise<DatabaseStatus> {
  const named: [string, pg.Pool][] = [...SERVICE_NAMES.map((service): [string, pg.Pool] => [service, pools.services[service]]), ['orchestration', pools.orchestration]];
  const checks = await Promise.all(
    named.map(async ([name, pool]): Promise<Omit<PoolHealth, keyof PoolStats>> => {
      const started = performance.now();
      try {
        const { rows } = await pool.query<{ role: string; path: string }>("SELECT current_user AS role, current_setting('search_path') AS path");
        return { name, ok: true, detail: `${rows[0]!.role}, search_path ${rows[0]!.path}`, latencyMs: performance.now() - started };
      } catch (error) {
        return { name, ok: false, detail: explain(error, config, name === 'orchestration' ? config.orchestration.database : config.trading.database) };
      }
    }),
  );
  const stats = pools.stats();
  const status: DatabaseStatus = {
    server: { mode: config.server.mode, host: config.server.host, port: config.server.port },
    trading: { database: config.trading.database, ok: false, schemas: [] },
    orchestration: { database: config.orchestration.database, ok: checks.at(-1)!.ok },
    pools: checks.map((check) => ({ ...check, ...stats[check.name]! })),
  };

  const reader = new pg.Client(connectionOptions(config, config.readonly, config.trading.database, { applicationName: 'tradedb:status' }));
  try {
    await reader.connect();
    const { rows: server } = await reader.query<{ version: string; size: string }>(
      "SELECT current_setting('server_version') AS version, pg_database_size(current_database()) AS size",
    );
    status.server.version = server[0]!.version;
    status.trading.sizeBytes = Number(server[0]!.size);
    const { rows } = await reader.query<{ schema: string; size: string; tables: string }>(
      `SELECT n.nspname AS schema,
              coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 'm')), 0) AS size,
              count(*) FILTER (WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition) AS tables
         FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
        WHERE n.nspname = ANY($1)
        GROUP BY n.nspname ORDER BY n.nspname`,
      [Object.values(SCHEMAS)],
    );
    status.trading.schemas = rows.map((row) => ({ schema: row.schema, sizeBytes: Number(row.size), tables: Number(row.tables) }));
    status.trading.ok = true;
  } catch (error) {
    status.trading.error = explain(error, config, config.trading.database);
  } finally {
    await reader.end().catch(() => undefined);
  }
  if (status.orchestration.ok) {
    const { rows } = await pools.orchestration.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
    status.orchestration.sizeBytes = Number(rows[0]!.size);
  } else {
    status.orchestration.error = checks.at(-1)!.detail;
  }
  return status;
}

function explain(error: unknown, config: DatabaseConfig, database: string): string {
  const explained = diagnoseConnectionError(error, {
    host: config.server.host,
    port: config.server.port,
    user: '(service role)',
    database,
    configuredBy: 'POSTGRES_HOST/POSTGRES_PORT',
  });
  return explained instanceof Error ? explained.message : String(explained);
}

/** True when every database and pool answered. */
export function isHealthy(status: DatabaseStatus): boolean {
  return status.trading.ok && status.orchestration.ok && status.pools.every((pool) => pool.ok);
}

export function formatStatus(status: DatabaseStatus): string {
  const size = (bytes?: number) => (bytes === undefined ? '-' : bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${Math.round(bytes / 1024)} kB`);
  const lines = [
    `Server        ${status.server.mode} ${status.server.host}:${status.server.port}${status.server.version ? `, PostgreSQL ${status.server.version}` : ''}`,
    `Trading DB    ${status.trading.database}: ${status.trading.ok ? `ok, ${size(status.trading.sizeBytes)}` : `DOWN — ${status.trading.error}`}`,
    ...status.trading.schemas.map((schema) => `  ${schema.schema.padEnd(16)} ${String(schema.tables).padStart(3)} tables  ${size(schema.sizeBytes).padStart(9)}`),
    `Orchestration ${status.orchestration.database}: ${status.orchestration.ok ? `ok, ${size(status.orchestration.sizeBytes)}` : `DOWN — ${status.orchestration.error}`}`,
    'Pools         name             total idle waiting max  connection',
    ...status.pools.map(
      (pool) =>
        `  ${pool.ok ? 'ok  ' : 'FAIL'} ${pool.name.padEnd(16)} ${String(pool.total).padStart(5)} ${String(pool.idle).padStart(4)} ${String(pool.waiting).padStart(7)} ${String(pool.max).padStart(3)}  ${pool.detail}${pool.latencyMs !== undefined ? ` (${pool.latencyMs.toFixed(1)} ms)` : ''}`,
    ),
  ];
  return lines.join('\n');
}
