import type pg from 'pg';
import { withTransaction } from '../db/transaction.ts';
import { pgStatStatementsView } from './database-health.ts';

export interface MaintenanceOptions {
  /** Report what would be done; change nothing. */
  dryRun?: boolean | undefined;
  /** Monthly partitions kept ready ahead of the current month (default 3); the log tables keep 8 days ahead. */
  monthsAhead?: number | undefined;
  /** Log partitions whose whole day (or month, for monthly ones from before migration 0006) ended longer ago than this are dropped (default 30 days). */
  logRetentionDays?: number | undefined;
  /** Intraday bars (1m … 1h) older than this are deleted; unset (the default): kept forever. Daily and longer bars are never touched. */
  intradayRetentionDays?: number | undefined;
  /** An ingestion run still `running` with no progress for this long died with its process (default 24 h). */
  staleRunHours?: number | undefined;
  /** How many of pg_stat_statements' top queries to snapshot (default 20). */
  topQueries?: number | undefined;
}

export interface MaintenanceReport {
  dryRun: boolean;
  partitionsCreated: number;
  partitionsDropped: string[];
  intradayBarsDeleted: number;
  staleRunsClosed: number[];
  analyzed: string[];
  queryStats: { snapshotRows: number } | { unavailable: string };
  bloat: Array<{ table: string; liveRows: number; deadRows: number; deadShare: number }>;
  /** Indexes of 64 kB or more never scanned since statistics were reset. */
  unusedIndexes: Array<{ index: string; table: string; bytes: number }>;
  largestTables: Array<{ table: string; tableBytes: number; indexBytes: number }>;
}

/** Partitioned by day (migration 0006); their old partitions go by `logRetentionDays`. */
const LOG_TABLES = ['logging.system_logs', 'logging.performance_logs'];
/** Day partitions of the log tables kept ready ahead of today, as setup does. */
const LOG_DAYS_AHEAD = 8;
const INTRADAY_INTERVALS = ['1m', '5m', '15m', '30m', '1h'];

/**
 * The nightly housekeeping of the trading database, run as its owner role: partitions created
 * ahead for every time-partitioned table (months; days for the log tables), log partitions dropped
 * by retention (a partition goes whole, once its day ended more than the retention ago; the audit
 * log is never dropped),
 * intraday bars deleted by retention if configured, runs abandoned by dead processes closed,
 * ANALYZE of tables whose statistics are stale, a snapshot of pg_stat_statements' top queries,
 * and a report of bloat, unused indexes and the largest tables. With dryRun it reports the same
 * and changes nothing.
 */
export async function runMaintenance(owner: pg.Pool, options: MaintenanceOptions = {}): Promise<MaintenanceReport> {
  const dryRun = options.dryRun ?? false;
  return {
    dryRun,
    partitionsCreated: await createPartitionsAhead(owner, options.monthsAhead ?? 3, dryRun),
    partitionsDropped: await dropExpiredLogPartitions(owner, options.logRetentionDays ?? 30, dryRun),
    intradayBarsDeleted: options.intradayRetentionDays === undefined ? 0 : await deleteOldIntradayBars(owner, options.intradayRetentionDays, dryRun),
    staleRunsClosed: await closeStaleIngestionRuns(owner, options.staleRunHours ?? 24, dryRun),
    analyzed: await analyzeStaleTables(owner, dryRun),
    queryStats: await snapshotQueryStats(owner, options.topQueries ?? 20, dryRun),
    bloat: await bloatReport(owner),
    unusedIndexes: await unusedIndexes(owner),
    largestTables: await largestTables(owner),
  };
}

/** Runs `work` in a transaction that commits, or (dry run) rolls back after measuring. */
async function changeOrPreview<T>(owner: pg.Pool, dryRun: boolean, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  if (!dryRun) return withTransaction(owner, work);
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    return await work(client);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

async function createPartitionsAhead(owner: pg.Pool, monthsAhead: number, dryRun: boolean): Promise<number> {
  return changeOrPreview(owner, dryRun, async (client) => {
    const { rows } = await client.query<{ created: number }>(
      `SELECT coalesce(sum(shared.create_monthly_partitions(c.oid::regclass, (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date, $1 + 2)), 0)::int AS created
         FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE p.partstrat = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.oid <> ALL($2::regclass[])`,
      [monthsAhead, LOG_TABLES],
    );
    const days = await client.query<{ created: number }>(
      `SELECT coalesce(sum(shared.create_daily_partitions(parent, (now() AT TIME ZONE 'UTC')::date - 1, $2 + 2)), 0)::int AS created
         FROM unnest($1::regclass[]) AS parent`,
      [LOG_TABLES, LOG_DAYS_AHEAD],
    );
    return rows[0]!.created + days.rows[0]!.created;
  });
}

async function dropExpiredLogPartitions(owner: pg.Pool, retentionDays: number, dryRun: boolean): Promise<string[]> {
  const { rows } = await owner.query<{ parent: string; partition: string }>(
    `SELECT i.inhparent::regclass::text AS parent, format('%I.%I', n.nspname, c.relname) AS partition
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.inhparent = ANY($1::regclass[])
        AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
        AND substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz <= now() - make_interval(days => $2)
      ORDER BY 2`,
    [LOG_TABLES, retentionDays],
  );
  if (!dryRun) {
    for (const { parent, partition } of rows) {
      await withTransaction(owner, async (client) => {
        await client.query(`ALTER TABLE ${parent} DETACH PARTITION ${partition}`);
        await client.query(`DROP TABLE ${partition}`);
      });
    }
  }
  return rows.map((row) => row.partition);
}

async function deleteOldIntradayBars(owner: pg.Pool, retentionDays: number, dryRun: boolean): Promise<number> {
  return changeOrPreview(owner, dryRun, async (client) => {
    const { rowCount } = await client.query('DELETE FROM data_ingestion.market_data WHERE interval = ANY($1) AND ts < now() - make_interval(days => $2)', [INTRADAY_INTERVALS, retentionDays]);
    return rowCount ?? 0;
  });
}

async function closeStaleIngestionRuns(owner: pg.Pool, staleHours: number, dryRun: boolean): Promise<number[]> {
  return changeOrPreview(owner, dryRun, async (client) => {
    const { rows } = await client.query<{ id: number }>(
      `UPDATE data_ingestion.ingestion_runs
          SET status = 'failed', finished_at = now(),
              error = format('abandoned: still running with no progress since %s; its process died (closed by maintenance)', updated_at)
        WHERE status = 'running' AND updated_at < now() - make_interval(hours => $1)
        RETURNING id::int`,
      [staleHours],
    );
    return rows.map((row) => row.id);
  });
}

/** Tables with more rows changed since their last ANALYZE than autovacuum's default threshold allows. */
async function analyzeStaleTables(owner: pg.Pool, dryRun: boolean): Promise<string[]> {
  const { rows } = await owner.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables
      WHERE n_mod_since_analyze > 50 + 0.1 * n_live_tup AND schemaname NOT IN ('public')
      ORDER BY n_mod_since_analyze DESC`,
  );
  if (!dryRun) for (const { name } of rows) await owner.query(`ANALYZE ${name}`);
  return rows.map((row) => row.name);
}

async function snapshotQueryStats(owner: pg.Pool, top: number, dryRun: boolean): Promise<MaintenanceReport['queryStats']> {
  const source = await pgStatStatementsView(owner);
  if ('unavailable' in source) return source;
  return changeOrPreview(owner, dryRun, async (client) => {
    const { rowCount } = await client.query(
      `INSERT INTO logging.query_stat_snapshots (taken_at, rank, queryid, role_name, query, calls, total_exec_ms, mean_exec_ms, rows, shared_blks_hit, shared_blks_read)
       SELECT now(), row_number() OVER (ORDER BY s.total_exec_time DESC), s.queryid, r.rolname, s.query, s.calls,
              round(s.total_exec_time::numeric, 3), round(s.mean_exec_time::numeric, 3), s.rows, s.shared_blks_hit, s.shared_blks_read
         FROM ${source.view} s LEFT JOIN pg_roles r ON r.oid = s.userid
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY s.total_exec_time DESC LIMIT $1`,
      [top],
    );
    return { snapshotRows: rowCount ?? 0 };
  });
}

async function bloatReport(owner: pg.Pool): Promise<MaintenanceReport['bloat']> {
  const { rows } = await owner.query<MaintenanceReport['bloat'][number]>(
    `SELECT format('%I.%I', schemaname, relname) AS "table", n_live_tup::float8 AS "liveRows", n_dead_tup::float8 AS "deadRows",
            round((n_dead_tup::numeric / greatest(n_live_tup + n_dead_tup, 1)), 3)::float8 AS "deadShare"
       FROM pg_stat_user_tables
      WHERE n_dead_tup > 1000 AND n_dead_tup > 0.2 * (n_live_tup + n_dead_tup)
      ORDER BY n_dead_tup DESC LIMIT 20`,
  );
  return rows;
}

async function unusedIndexes(owner: pg.Pool): Promise<MaintenanceReport['unusedIndexes']> {
  const { rows } = await owner.query<MaintenanceReport['unusedIndexes'][number]>(
    `SELECT format('%I.%I', s.schemaname, s.indexrelname) AS index, format('%I.%I', s.schemaname, s.relname) AS "table", pg_relation_size(s.indexrelid)::float8 AS bytes
       FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
      WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND s.schemaname NOT IN ('public')
        AND pg_relation_size(s.indexrelid) >= 65536
      ORDER BY pg_relation_size(s.indexrelid) DESC, 1 LIMIT 30`,
  );
  return rows;
}

async function largestTables(owner: pg.Pool): Promise<MaintenanceReport['largestTables']> {
  const { rows } = await owner.query<MaintenanceReport['largestTables'][number]>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS "table", pg_table_size(c.oid)::float8 AS "tableBytes", pg_indexes_size(c.oid)::float8 AS "indexBytes"
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 15`,
  );
  return rows;
}
