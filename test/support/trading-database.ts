import type pg from 'pg';
import { createOwnerPool } from '../../src/db/owner-pool.ts';
import { createPools, type Pools } from '../../src/db/pools.ts';
import { connectAdmin } from '../../src/db/setup.ts';
import { cloneTemplateDatabases, type TestDatabases } from './test-database.ts';

/** A test file's own trading database with accounts and symbols to trade, the execution pool, the owner's pool and an admin connection. */
export interface TradingDatabase {
  db: TestDatabases;
  pools: Pools;
  /** The execution pool (execution_user). */
  pool: pg.Pool;
  /** A pool of the owner role (trading_user): accounts, the audit trail, secrets, relays. */
  owner: pg.Pool;
  admin: pg.Client;
  close(): Promise<void>;
}

export async function openTradingDatabase(label: string, setup: { accounts: string[]; symbols: string[] }): Promise<TradingDatabase> {
  const db = await cloneTemplateDatabases(label);
  const pools = createPools(db.config, () => undefined);
  const admin = await connectAdmin(db.config, db.config.trading.database);
  await admin.query("INSERT INTO shared.accounts (account_id, name, starting_cash) SELECT a, 'Test ' || a, 100000 FROM unnest($1::text[]) AS a", [setup.accounts]);
  await admin.query('INSERT INTO data_ingestion.symbols (symbol) SELECT unnest($1::text[])', [setup.symbols]);
  const owner = createOwnerPool(db.config);
  return {
    db,
    pools,
    pool: pools.services.execution,
    owner,
    admin,
    async close() {
      await admin.end();
      await owner.end();
      await pools.close();
      await db.drop();
    },
  };
}
