import { quoteIdentifier } from '../db/psql-script.ts';
import type { Queryable } from '../db/queryable.ts';

export interface TableSize {
  table: string;
  /** Table, indexes and TOAST; a partitioned table's partitions summed into it. */
  bytes: number;
}

export interface PartitionInfo {
  parent: string;
  partition: string;
  /** The partition's bounds as PostgreSQL prints them, e.g. FOR VALUES FROM ('2026-11-01') TO ('2026-12-01'). */
  bounds: string;
  /** The planner's row estimate (from the last ANALYZE or VACUUM; null before the first). */
  estimatedRows: number | null;
  bytes: number;
}

export interface SlowQuery {
  query: string;
  role: string | null;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
}

export type SlowestQueries = { queries: SlowQuery[] } | { unavailable: string };

/** The largest tables of the database (partitions summed into their parent), largest first. */
export async function tableSizes(db: Queryable, limit: number): Promise<TableSize[]> {
  const { rows } = await db.query<TableSize>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS "table",
            (coalesce((SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = c.oid), 0)
             + pg_total_relation_size(c.oid))::float8 AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
      ORDER BY bytes DESC, 1 LIMIT $1`,
    [limit],
  );
  return rows;
}

/** Every partition of every partitioned table, by parent, oldest bound first. */
export async function partitionList(db: Queryable): Promise<PartitionInfo[]> {
  const { rows } = await db.query<PartitionInfo>(
    `SELECT format('%I.%I', pn.nspname, p.relname) AS parent, format('%I.%I', n.nspname, c.relname) AS partition,
            pg_get_expr(c.relpartbound, c.oid) AS bounds, nullif(c.reltuples, -1)::float8 AS "estimatedRows",
            pg_total_relation_size(c.oid)::float8 AS bytes
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
      WHERE c.relispartition AND c.relkind IN ('r', 'p')
      ORDER BY 1, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', 3`,
  );
  return rows;
}

/**
 * pg_stat_statements' view, schema-qualified, or why it cannot be read: the extension is not
 * installed in this database, or the server does not load its library.
 */
export async function pgStatStatementsView(db: Queryable): Promise<{ view: string } | { unavailable: string }> {
  const { rows } = await db.query<{ schema: string }>(
    "SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'",
  );
  const schema = rows[0]?.schema;
  if (!schema) return { unavailable: 'the pg_stat_statements extension is not installed in this database' };
  const view = `${quoteIdentifier(schema)}.pg_stat_statements`;
  try {
    await db.query(`SELECT 1 FROM ${view} LIMIT 1`);
  } catch (error) {
    // 55000: the library is not in shared_preload_libraries (the only reason the view refuses).
    if ((error as { code?: string }).code !== '55000') throw error;
    return { unavailable: "pg_stat_statements is not loaded by the server: add shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and restart it (the embedded server loads it)" };
  }
  return { view };
}

/**
 * The statements of this database that took the most time per call (pg_stat_statements; constants
 * are normalized to $n there). Other roles' statement texts need pg_read_all_stats (the owner
 * and, from migration 0012, logging_user have it).
 */
export async function slowestQueries(db: Queryable, limit: number): Promise<SlowestQueries> {
  const source = await pgStatStatementsView(db);
  if ('unavailable' in source) return source;
  const { rows } = await db.query<SlowQuery>(
    `SELECT s.query, r.rolname AS role, s.calls::float8 AS calls, round(s.total_exec_time::numeric, 3)::float8 AS "totalMs",
            round(s.mean_exec_time::numeric, 3)::float8 AS "meanMs", s.rows::float8 AS rows
       FROM ${source.view} s LEFT JOIN pg_roles r ON r.oid = s.userid
      WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY s.mean_exec_time DESC LIMIT $1`,
    [limit],
  );
  return { queries: rows };
}
