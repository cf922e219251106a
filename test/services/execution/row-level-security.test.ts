import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceName } from '../../../src/config/database-config.ts';
import { withAccountTransaction } from '../../../src/db/account-transaction.ts';
import { withTransaction } from '../../../src/db/transaction.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;

/** Every account-owned table, and which service may write it (the others may only read, or nothing). */
const ACCOUNT_TABLES: Array<[table: string, writer: ServiceName | undefined]> = [
  ['shared.accounts', undefined],
  ['execution.orders', 'execution'],
  ['execution.order_events', 'execution'],
  ['execution.trades', 'execution'],
  ['execution.positions', 'execution'],
  ['execution.execution_logs', 'execution'],
  ['risk_management.risk_limits', 'risk_management'],
  ['risk_management.position_limits', 'risk_management'],
  ['risk_management.risk_events', 'risk_management'],
  ['analytics.portfolio_summary', 'analytics'],
  ['analytics.performance_metrics', 'analytics'],
];
/** Services that read every schema holding account tables. */
const READERS: ServiceName[] = ['analytics', 'risk_management', 'execution'];

beforeAll(async () => {
  trading = await openTradingDatabase('rls', { accounts: ['acct-a', 'acct-b'], symbols: ['RLS'] });
  // One row of each account in every table, written by the owner (not subject to the policies).
  await trading.admin.query(`
    INSERT INTO execution.orders (account_id, client_order_id, symbol, side, order_type, quantity)
      SELECT a, 'c-' || a, 'RLS', 'buy', 'market', 1 FROM unnest(ARRAY['acct-a', 'acct-b']) AS a;
    INSERT INTO execution.order_events (account_id, order_id, to_status) SELECT account_id, id, 'pending' FROM execution.orders;
    UPDATE execution.orders SET status = 'submitted';
    INSERT INTO execution.trades (account_id, order_id, broker_fill_id, symbol, side, quantity, price, executed_at)
      SELECT account_id, id, 'f-' || account_id, 'RLS', 'buy', 1, 10, now() FROM execution.orders;
    INSERT INTO execution.positions (account_id, symbol, quantity, average_cost) SELECT account_id, 'RLS', 1, 10 FROM execution.orders;
    INSERT INTO execution.execution_logs (account_id, level, message) SELECT account_id, 'info', 'hello' FROM execution.orders;
    INSERT INTO risk_management.risk_limits (account_id, scope, limit_type, limit_value) SELECT account_id, 'account', 'max_open_orders', 5 FROM execution.orders;
    INSERT INTO risk_management.position_limits (account_id, symbol, max_long_quantity) SELECT account_id, 'RLS', 100 FROM execution.orders;
    INSERT INTO risk_management.risk_events (account_id, event_type, severity, detail) SELECT account_id, 'test', 'info', 'x' FROM execution.orders;
    INSERT INTO analytics.portfolio_summary (account_id, as_of, cash, market_value, equity, gross_exposure, net_exposure)
      SELECT account_id, now(), 1, 1, 2, 1, 1 FROM execution.orders;
    INSERT INTO analytics.performance_metrics (account_id, period, period_start, period_end) SELECT account_id, 'daily', current_date, current_date FROM execution.orders;
  `);
});
afterAll(() => trading?.close());

const pool = (service: ServiceName): pg.Pool => trading.pools.services[service];

/** The account tables the service's role may SELECT from (its grants decide; RLS then filters rows). */
async function readableTables(service: ServiceName): Promise<string[]> {
  const { rows } = await pool(service).query<{ table: string }>(
    "SELECT t AS table FROM unnest($1::text[]) AS t WHERE CASE WHEN has_schema_privilege(split_part(t, '.', 1), 'USAGE') THEN has_table_privilege(t, 'SELECT') ELSE false END",
    [ACCOUNT_TABLES.map(([table]) => table)],
  );
  return rows.map((row) => row.table);
}

describe('row-level security: account A cannot read or change account B', () => {
  it.each(READERS)('%s, acting for acct-a, reads only acct-a rows in every account table it may read', async (service) => {
    const readable = await readableTables(service);
    expect(readable.length).toBeGreaterThan(5);
    for (const table of readable) {
      const { rows } = await withAccountTransaction(pool(service), 'acct-a', (client) => client.query(`SELECT DISTINCT account_id FROM ${table}`));
      expect(rows, table).toEqual([{ account_id: 'acct-a' }]);
    }
  });

  it.each(READERS)('%s with no account set sees no account rows at all', async (service) => {
    for (const table of await readableTables(service)) {
      const { rows } = await pool(service).query(`SELECT count(*)::int AS n FROM ${table}`);
      expect(rows[0].n, table).toBe(0);
    }
  });

  it.each(ACCOUNT_TABLES.filter(([, writer]) => writer))('%s: its writer, acting for acct-a, changes no acct-b row and cannot create one', async (table, writer) => {
    const service = writer!;
    const changed = await withAccountTransaction(pool(service), 'acct-a', async (client) => {
      const updated = await client.query(`UPDATE ${table} SET account_id = account_id WHERE account_id = 'acct-b'`);
      // Moving its own row to acct-b would plant a row in B's account: WITH CHECK refuses it
      // (order_events' append-only trigger refuses any update first).
      const moved = await client.query('SAVEPOINT s').then(() => client.query(`UPDATE ${table} SET account_id = 'acct-b' WHERE account_id = 'acct-a'`)).catch((error: { code?: string }) => error);
      expect(table === 'execution.order_events' ? ['42501', '23001'] : ['42501']).toContain((moved as { code?: string }).code);
      await client.query('ROLLBACK TO SAVEPOINT s');
      const deleted = await client.query(`DELETE FROM ${table} WHERE account_id = 'acct-b' AND false IS NOT TRUE`);
      return (updated.rowCount ?? 0) + (deleted.rowCount ?? 0);
    }).catch(async (error: { code?: string }) => {
      // Foreign keys from other account tables may refuse the delete before RLS is asked; that is no change either.
      if (error.code !== '23503') throw error;
      return 0;
    });
    expect(changed).toBe(0);
    const { rows } = await trading.admin.query(`SELECT count(*)::int AS n FROM ${table} WHERE account_id = 'acct-b'`);
    expect(rows[0].n).toBe(1);
  });

  it('an order written for another account than the one set is refused', async () => {
    await expect(
      withAccountTransaction(pool('execution'), 'acct-a', (client) =>
        client.query("INSERT INTO execution.orders (account_id, client_order_id, symbol, side, order_type, quantity) VALUES ('acct-b', 'sneaky', 'RLS', 'buy', 'market', 1)"),
      ),
    ).rejects.toMatchObject({ sqlstate: '42501' });
    await expect(withTransaction(pool('execution'), (client) => client.query("INSERT INTO execution.orders (account_id, client_order_id, symbol, side, order_type, quantity) VALUES ('acct-a', 'no-account', 'RLS', 'buy', 'market', 1)"))).rejects.toMatchObject({ sqlstate: '42501' });
  });

  it('the order-flow functions act for the account they are given and no other within one transaction', async () => {
    const { recordFill } = await import('../../../src/services/execution/fill-service.ts');
    const orderB = (await trading.admin.query("SELECT id::int FROM execution.orders WHERE account_id = 'acct-b'")).rows[0].id;
    // Account A's transaction may not reach B's order through a function either.
    await expect(
      withAccountTransaction(pool('execution'), 'acct-a', (client) => client.query("SELECT * FROM execution.record_fill('acct-b', $1, 'via-a', 1, 10, 0, now())", [orderB])),
    ).rejects.toMatchObject({ sqlstate: '42501' });
    // Asked for B on an order id of B's that A names as its own, the order is simply not found.
    await expect(recordFill(pool('execution'), { accountId: 'acct-a', orderId: orderB, brokerFillId: 'wrong-account', quantity: 1, price: 10 })).rejects.toThrow(/Unknown order/);
    // Other services may not call the order flow at all.
    await expect(pool('analytics').query("SELECT * FROM execution.record_fill('acct-b', $1, 'via-analytics', 1, 10, 0, now())", [orderB])).rejects.toMatchObject({ code: '42501' });
    const { rows } = await trading.admin.query("SELECT count(*)::int AS n FROM execution.trades WHERE broker_fill_id LIKE 'via-%' OR broker_fill_id = 'wrong-account'");
    expect(rows[0].n).toBe(0);
  });

  it('no service role may bypass row-level security', async () => {
    const { rows } = await trading.admin.query("SELECT rolname FROM pg_roles WHERE rolname LIKE '%\\_user' AND (rolbypassrls OR rolsuper) AND rolname <> $1", [trading.db.config.trading.owner.user]);
    expect(rows).toEqual([]);
  });
});
