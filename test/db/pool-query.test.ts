import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPools, type Pools } from '../../src/db/pools.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';

let db: TestDatabases;
let pools: Pools;
beforeAll(async () => {
  db = await cloneTemplateDatabases('pool_query');
  pools = createPools(db.config);
});
afterAll(async () => {
  await pools?.close();
  await db?.drop();
});

const backend = async () => (await pools.services.execution.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

it('a statement the server refuses keeps its pooled connection; one that ends the session does not', async () => {
  const pool = pools.services.execution;
  const before = await backend();
  await expect(pool.query('SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
  await expect(pool.query('SELECT * FROM execution.no_such_table')).rejects.toMatchObject({ code: '42P01' });
  expect(await backend()).toBe(before);
  expect(pool.totalCount).toBe(1);

  // The server ending the session (57P01) must not leave a dead connection in the pool.
  await expect(pool.query('SELECT pg_terminate_backend(pg_backend_pid())')).rejects.toBeDefined();
  const after = await backend();
  expect(after).not.toBe(before);
  expect(pool.totalCount).toBe(1);
  // Callback calls still go through pg-pool itself.
  const viaCallback = await new Promise<number>((resolve, reject) => pool.query('SELECT 41 + 1 AS n', (error: Error | undefined, result: { rows: Array<{ n: number }> }) => (error ? reject(error) : resolve(result.rows[0]!.n))));
  expect(viaCallback).toBe(42);
});
