import { createRequire } from 'node:module';
import type pg from 'pg';
import { isRetryableTransactionError, toDatabaseError } from './errors.ts';
import type { ConnectionSource, Queryable } from './queryable.ts';
import { correlationStatement } from '../shared/correlation.ts';
import { queryKeepingConnection } from './pool-query.ts';

export interface TransactionOptions {
  /** Default 'read committed'. Use 'serializable' where a race must be impossible. */
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable';
  readOnly?: boolean;
  /** Attempts in all, including the first; default 5. */
  maxAttempts?: number;
  /** First retry waits up to this long, doubling each time (full jitter); default 10 ms. */
  baseDelayMs?: number;
  /** No wait is longer than this; default 1000 ms. */
  maxDelayMs?: number;
  /** Called before each retry, e.g. to count or log them. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `work` inside one transaction on a connection from `source` and commits it. A
 * serialization failure (40001) or deadlock (40P01) rolls back and runs `work` again, after a
 * jittered backoff so that the racing transactions do not collide again; `work` must therefore
 * be safe to repeat (no side effects outside the database). Any other error rolls back and is
 * thrown as its typed DatabaseError.
 */
export async function withTransaction<T>(
  source: ConnectionSource,
  work: (client: pg.PoolClient, attempt: number) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const begin = `BEGIN ISOLATION LEVEL ${(options.isolationLevel ?? 'read committed').toUpperCase()}${options.readOnly ? ' READ ONLY' : ''}`;
  return retryingConflicts(async (attempt) => {
    const client = await source.connect();
    let broken = false;
    try {
      // The outbox triggers stamp events with the transaction's correlation (shared/correlation.ts).
      const correlation = correlationStatement();
      await client.query(correlation ? `${begin}; ${correlation}` : begin);
      const result = await work(client, attempt);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = !(await rollback(client));
      throw error;
    } finally {
      // A connection whose rollback failed is in an unknown state: destroy it, don't reuse it.
      client.release(broken);
    }
  }, options);
}

/**
 * A Queryable whose every statement is its own transaction (autocommit: one round trip, for a
 * server-side function that does a whole step), retried on serialization failures and deadlocks
 * as withTransaction's work is. With a correlation in progress, the statement and the
 * set_config calls that carry the correlation go as one simple query (its statements run in one
 * implicit transaction): still one round trip, and no lock the statement takes is held while
 * a COMMIT travels.
 */
export function statementTransactions(pool: pg.Pool, options: Omit<TransactionOptions, 'isolationLevel' | 'readOnly'> = {}): Queryable {
  return {
    query: (textOrConfig: string | pg.QueryConfig, values?: unknown[]) => {
      const correlation = correlationStatement();
      if (!correlation) return retryingConflicts(() => queryKeepingConnection(pool, textOrConfig, values), options);
      const text = typeof textOrConfig === 'string' ? textOrConfig : textOrConfig.text;
      const config: Partial<pg.QueryConfig> = typeof textOrConfig === 'string' ? {} : textOrConfig;
      const inlined = Object.keys(config).every((key) => key === 'text' || key === 'values' || key === 'name') ? withLiterals(text, values ?? config.values ?? []) : undefined;
      if (inlined === undefined) return withTransaction(pool, (client) => client.query(textOrConfig as string, values), options);
      return retryingConflicts(async () => {
        const results = (await queryKeepingConnection(pool, `${correlation}; ${inlined}`)) as unknown as pg.QueryResult[];
        return results[results.length - 1]!;
      }, options);
    },
  } as Queryable;
}

const { prepareValue, escapeLiteral } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue(value: unknown): string | Buffer | null;
  escapeLiteral(value: string): string;
};

/**
 * `text` with each $n replaced by its value as a quoted literal (prepared as node-postgres
 * prepares a parameter: an untyped literal, like an untyped parameter), for a query string that
 * must hold more than one statement. Undefined, for the caller to send the statement with real
 * parameters instead, when a $n could be something else: the text holds string quotes, comments
 * or dollar signs other than $n, or a quoted identifier holds a $ (a value spliced there could
 * close the identifier); also when it names a missing value.
 */
export function withLiterals(text: string, values: readonly unknown[]): string | undefined {
  if (/'|--|\/\*|\$(?!\d)/.test(text)) return undefined;
  // Odd pieces are quoted identifiers ("…", "" inside), kept as they are; even pieces are SQL.
  const pieces = text.split(/("(?:[^"]|"")*")/);
  // A $ inside an identifier, or a quote left unpaired in the SQL: not a text to splice into.
  if (pieces.some((piece, index) => (index % 2 === 1 ? piece.includes('$') : piece.includes('"')))) return undefined;
  let missing = false;
  const inlined = pieces.map((piece, index) =>
    index % 2 === 1
      ? piece
      : piece.replace(/\$(\d+)/g, (_match, digits: string) => {
          const position = Number(digits) - 1;
          if (position < 0 || position >= values.length) {
            missing = true;
            return 'NULL';
          }
          const value = prepareValue(values[position]);
          if (value === null) return 'NULL';
          return escapeLiteral(Buffer.isBuffer(value) ? `\\x${value.toString('hex')}` : value);
        }),
  );
  return missing ? undefined : inlined.join('');
}

/** Runs `attempt` until it succeeds, retrying 40001/40P01 after a jittered backoff; errors leave typed. */
async function retryingConflicts<T>(run: (attempt: number) => Promise<T>, options: TransactionOptions): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run(attempt);
    } catch (error) {
      if (!isRetryableTransactionError(error) || attempt >= maxAttempts) throw toDatabaseError(error);
      const delayMs = backoffDelay(attempt, options.baseDelayMs ?? 10, options.maxDelayMs ?? 1000);
      options.onRetry?.(error, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

async function rollback(client: pg.PoolClient): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false; // the caller destroys the connection instead of returning it to the pool
  }
}

/** Full jitter: a random wait between 0 and base·2^(attempt-1), capped. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.round(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
}
