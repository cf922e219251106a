import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOptions } from '../../src/db/connection-options.ts';
import { CheckViolationError, UniqueViolationError } from '../../src/db/errors.ts';
import { backoffDelay, statementTransactions, withLiterals, withTransaction } from '../../src/db/transaction.ts';
import { withCorrelation } from '../../src/shared/correlation.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';

let db: TestDatabases;
let pool: pg.Pool;

beforeAll(async () => {
  db = await cloneTemplateDatabases('tx');
  pool = new pg.Pool({ ...adminOptions(db.config, db.config.trading.database), max: 6 });
  await pool.query('CREATE TABLE shared.tx_test (id int PRIMARY KEY, amount numeric NOT NULL CHECK (amount >= 0))');
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** Resolves once `count` callers have arrived: makes two transactions interleave on purpose. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (release = resolve));
  return () => {
    arrived += 1;
    if (arrived === count) release();
    return all;
  };
}

describe('withTransaction', () => {
  it('retries a provoked serialization failure (40001) and both transactions end up applied', async () => {
    await pool.query('TRUNCATE shared.tx_test');
    const bothHaveRead = barrier(2);
    const retries: string[] = [];
    // Write skew: each reads the total, then inserts a row derived from it. Under SERIALIZABLE
    // one of the two must fail with 40001 on the first attempt.
    const transfer = (id: number) =>
      withTransaction(
        pool,
        async (client, attempt) => {
          const { rows } = await client.query<{ total: string }>('SELECT coalesce(sum(amount), 0) AS total FROM shared.tx_test');
          if (attempt === 1) await bothHaveRead();
          await client.query('INSERT INTO shared.tx_test (id, amount) VALUES ($1, $2)', [id, Number(rows[0]!.total) + 1]);
          return attempt;
        },
        { isolationLevel: 'serializable', onRetry: (error) => retries.push((error as { code?: string }).code ?? '?') },
      );
    const attempts = await Promise.all([transfer(1), transfer(2)]);
    // One commits at once; the other is retried — possibly twice, when its retry (after a jittered
    // backoff of up to 10 ms) overlaps the first one's commit again.
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(new Set(retries)).toEqual(new Set(['40001']));
    expect(Math.min(...attempts)).toBe(1);
    expect(Math.max(...attempts)).toBe(1 + retries.length);
    const { rows } = await pool.query('SELECT id, amount::text FROM shared.tx_test ORDER BY amount');
    // Serial outcome: the first saw 0 and wrote 1, the retried one saw 1 and wrote 2.
    expect(rows.map((row) => row.amount)).toEqual(['1', '2']);
  });

  it('retries a provoked deadlock (40P01)', async () => {
    await pool.query('TRUNCATE shared.tx_test');
    await pool.query('INSERT INTO shared.tx_test VALUES (1, 10), (2, 10)');
    const bothLocked = barrier(2);
    const retries: string[] = [];
    const lockBoth = (first: number, second: number) =>
      withTransaction(
        pool,
        async (client, attempt) => {
          await client.query('UPDATE shared.tx_test SET amount = amount + 1 WHERE id = $1', [first]);
          if (attempt === 1) await bothLocked();
          await client.query('UPDATE shared.tx_test SET amount = amount + 1 WHERE id = $1', [second]);
        },
        { onRetry: (error) => retries.push((error as { code?: string }).code ?? '?') },
      );
    await Promise.all([lockBoth(1, 2), lockBoth(2, 1)]);
    expect(retries).toEqual(['40P01']);
    const { rows } = await pool.query('SELECT amount::text FROM shared.tx_test ORDER BY id');
    expect(rows.map((row) => row.amount)).toEqual(['12', '12']);
  });

  it('rolls back everything and throws a typed error for a non-retryable failure, without retrying', async () => {
    await pool.query('TRUNCATE shared.tx_test');
    let attempts = 0;
    const failure = await withTransaction(pool, async (client) => {
      attempts += 1;
      await client.query('INSERT INTO shared.tx_test VALUES (1, 5)');
      await client.query('INSERT INTO shared.tx_test VALUES (1, 6)');
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UniqueViolationError);
    expect(failure).toMatchObject({ sqlstate: '23505', constraint: 'tx_test_pkey' });
    expect(attempts).toBe(1);
    expect((await pool.query('SELECT count(*)::int AS n FROM shared.tx_test')).rows[0].n).toBe(0);

    await expect(withTransaction(pool, (client) => client.query('INSERT INTO shared.tx_test VALUES (3, -1)'))).rejects.toBeInstanceOf(CheckViolationError);
  });

  it('gives up after maxAttempts and throws the last serialization failure', async () => {
    let attempts = 0;
    const failure = await withTransaction(
      pool,
      async () => {
        attempts += 1;
        throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      },
      { maxAttempts: 3, baseDelayMs: 1 },
    ).catch((error: unknown) => error);
    expect(attempts).toBe(3);
    expect(failure).toMatchObject({ sqlstate: '40001' });
  });

  it('backs off with full jitter, never above the cap', () => {
    for (let attempt = 1; attempt <= 12; attempt += 1) {
      const delay = backoffDelay(attempt, 10, 1000);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(1000, 10 * 2 ** (attempt - 1)));
    }
  });
});

describe('statementTransactions', () => {
  it('a statement the server refuses is a typed error and keeps its pooled connection (pg-pool would destroy it)', async () => {
    const single = new pg.Pool({ ...adminOptions(db.config, db.config.trading.database), max: 1 });
    try {
      const db1 = statementTransactions(single);
      const pid = async () => (await db1.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const before = await pid();
      await expect(db1.query('INSERT INTO shared.tx_test (id, amount) VALUES (900, -1)')).rejects.toBeInstanceOf(CheckViolationError);
      await expect(db1.query('SELECT 1/0')).rejects.toMatchObject({ sqlstate: '22012' });
      expect(await pid()).toBe(before);
      expect(single.totalCount).toBe(1);
    } finally {
      await single.end();
    }
  });

  it('with a correlation, carries it in the same round trip as the statement, values as literals that stay data', async () => {
    const single = new pg.Pool({ ...adminOptions(db.config, db.config.trading.database), max: 1 });
    // Counts what reaches the connection: one simple query, no BEGIN and COMMIT around it.
    const sent: string[] = [];
    single.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        sent.push(typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text);
        return query(...args);
      };
    });
    try {
      const db1 = statementTransactions(single);
      const tricky = "x'); DROP TABLE shared.tx_test; -- \\ $1 $$";
      const { rows } = await withCorrelation({ correlationId: 'corr-1', actor: 'api:me' }, () =>
        db1.query<{ c: string; a: string; v: string; n: number; missing: boolean }>({
          name: 'tx.literals',
          text: 'SELECT current_setting($1) AS c, current_setting($2) AS a, $3::text AS v, $4::int + 1 AS n, $5::text IS NULL AS missing',
          values: ['tradedb.correlation_id', 'tradedb.actor', tricky, 41, null],
        }),
      );
      expect(rows).toEqual([{ c: 'corr-1', a: 'api:me', v: tricky, n: 42, missing: true }]);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(/^SELECT set_config\('tradedb\.correlation_id', 'corr-1', true\).*; SELECT current_setting/);
      // Local to the statement's implicit transaction: nothing stays on the pooled session.
      expect((await single.query("SELECT current_setting('tradedb.correlation_id', true) AS c")).rows[0].c).toBe('');
      await expect(withCorrelation({ correlationId: 'corr-2' }, () => db1.query('INSERT INTO shared.tx_test (id, amount) VALUES ($1, $2)', [901, -1]))).rejects.toBeInstanceOf(CheckViolationError);
      expect(withLiterals("SELECT 'a' = $1", ['a'])).toBeUndefined();
      expect(withLiterals('SELECT $2', ['a'])).toBeUndefined();
      // Where a $n might not be a parameter, nothing is spliced: comments, a $ in a quoted identifier, an unpaired quote.
      expect(withLiterals('SELECT $1 -- $1', ['a'])).toBeUndefined();
      expect(withLiterals('SELECT $1 /* $1 */', ['a'])).toBeUndefined();
      expect(withLiterals('SELECT 1 AS "$1"', ['a" , 2 AS "b'])).toBeUndefined();
      expect(withLiterals('SELECT 1 AS "a', ['a'])).toBeUndefined();
      // Quoted aliases (the order-flow statements have them) are kept as they are.
      expect(withLiterals('SELECT $1::text AS "clientOrderId", "x""y".z', ["it's"])).toBe(`SELECT 'it''s'::text AS "clientOrderId", "x""y".z`);
    } finally {
      await single.end();
    }
  });
});
