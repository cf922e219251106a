import type pg from 'pg';
import { createPools, type Pools } from '../../src/db/pools.ts';
import { connectAdmin } from '../../src/db/setup.ts';
import { SymbolService } from '../../src/services/data-ingestion/symbol-service.ts';
import { cloneTemplateDatabases, type TestDatabases } from './test-database.ts';

/** What a data-ingestion test file works with: its own database, the service's pool, an admin connection. */
export interface IngestionDatabase {
  db: TestDatabases;
  pools: Pools;
  /** The data_ingestion pool (data_ingestion_user), as the services use it. */
  pool: pg.Pool;
  /** A superuser connection to the same database, for setting up and checking behind the service's back. */
  admin: pg.Client;
  symbols: SymbolService;
  /** Runs `sql` (which selects one column `n`) as the admin and returns it as a number. */
  count(sql: string, values?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export async function openIngestionDatabase(label: string): Promise<IngestionDatabase> {
  const db = await cloneTemplateDatabases(label);
  const pools = createPools(db.config);
  const admin = await connectAdmin(db.config, db.config.trading.database);
  const pool = pools.services.data_ingestion;
  return {
    db,
    pools,
    pool,
    admin,
    symbols: new SymbolService(pool),
    async count(sql, values = []) {
      const { rows } = await admin.query<{ n: string }>(sql, values);
      return Number(rows[0]!.n);
    },
    async close() {
      await admin.end();
      await pools.close();
      await db.drop();
    },
  };
}
