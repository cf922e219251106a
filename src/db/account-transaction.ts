import type pg from 'pg';
import type { ConnectionSource } from './queryable.ts';
import { type TransactionOptions, withTransaction } from './transaction.ts';

/**
 * withTransaction for work on one account's rows: the transaction carries the account in the
 * setting tradedb.account_id, which the row-level security policies of account-owned tables
 * read, so a query can see and change that account's rows and no other's.
 */
export function withAccountTransaction<T>(source: ConnectionSource, accountId: string, work: (client: pg.PoolClient, attempt: number) => Promise<T>, options?: TransactionOptions): Promise<T> {
  return withTransaction(
    source,
    async (client, attempt) => {
      await client.query("SELECT set_config('tradedb.account_id', $1, true)", [accountId]);
      return work(client, attempt);
    },
    options,
  );
}
