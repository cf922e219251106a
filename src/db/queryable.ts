import type pg from 'pg';

/**
 * The seam every repository takes: a pool, a checked-out client or a client inside a
 * transaction all fit, so any repository call can join its caller's transaction.
 */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** With `name`, a prepared statement: parsed and planned once per connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/** Something that lends connections: a pg.Pool. */
export interface ConnectionSource {
  connect(): Promise<pg.PoolClient>;
}
