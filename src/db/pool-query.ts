import type pg from 'pg';
import { queryTimed } from './query-timing.ts';

/** A connection-level failure (no SQLSTATE, or class 08 / 57P) leaves the session unusable. */
function breaksSession(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code !== 'string' || code.startsWith('08') || code.startsWith('57P');
}

/**
 * pool.query, except that a statement the server refuses (an error with a SQLSTATE, the session
 * healthy) hands its connection back: pg-pool's own query() destroys the connection on any error,
 * so every refused statement cost a new connection and its authentication (~40 ms here).
 */
export async function queryKeepingConnection(pool: pg.Pool, textOrConfig: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    return await client.query(textOrConfig as string, values);
  } catch (error) {
    if (breaksSession(error)) failure = error as Error;
    throw error;
  } finally {
    client.release(failure);
  }
}

/**
 * Makes `pool.query` keep healthy connections when a statement is refused (queryKeepingConnection)
 * for the promise form every service uses, and reports each one's duration under `name`
 * (query-timing.ts); callback calls and submittables (cursors, COPY streams) go to pg-pool's own
 * query unchanged.
 */
export function keepConnectionsOnRefusal(pool: pg.Pool, name: string): pg.Pool {
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const timed = async (textOrConfig: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> => {
    const started = performance.now();
    try {
      return await queryKeepingConnection(pool, textOrConfig, values);
    } finally {
      queryTimed(name, (performance.now() - started) / 1000);
    }
  };
  // Not async itself: a submittable comes back as it went in, as pg-pool returns it.
  const query = (textOrConfig: unknown, values?: unknown, callback?: unknown): unknown => {
    const submittable = typeof (textOrConfig as { submit?: unknown } | null)?.submit === 'function';
    if (submittable || typeof values === 'function' || typeof callback === 'function') return original(textOrConfig, values, callback);
    return timed(textOrConfig as string | pg.QueryConfig, values as unknown[] | undefined);
  };
  pool.query = query as typeof pool.query;
  return pool;
}
