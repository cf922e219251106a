import type pg from 'pg';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { connectAdmin } from '../src/db/setup.ts';

/** What every benchmark needs: its own databases, a superuser connection, a median. */

/** Configuration for databases of a benchmark's own, named tdbb_<label> (and _orch); nothing is created. */
export function benchConfig(env: Record<string, string>, label: string): DatabaseConfig {
  return loadConfig({ env: { ...env, TRADING_DB_NAME: `tdbb_${label}`, ORCHESTRATION_DB_NAME: `tdbb_${label}_orch` }, envFile: false }).database;
}

/** Runs `work` with a superuser connection to the trading database, closed after. */
export async function asAdmin<T>(config: DatabaseConfig, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = await connectAdmin(config, config.trading.database);
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
