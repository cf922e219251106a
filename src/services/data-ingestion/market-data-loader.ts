import type pg from 'pg';
import { copyInto } from '../../db/copy-stream.ts';
import { isServerError } from '../../db/errors.ts';
import { type BarBatch, MARKET_DATA_COPY_COLUMNS } from './bar-batch.ts';

/** How a batch went in: straight into market_data, or through staging and a merge. */
export type LoadPath = 'direct' | 'merge';

export interface BatchOutcome {
  path: LoadPath;
  inserted: number;
  updated: number;
  unchanged: number;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Session-local staging for the merge path: no indexes, no WAL, emptied at each commit. Typed
 * like market_data so values round to the same scale before they are compared.
 */
const CREATE_STAGING = `CREATE TEMP TABLE IF NOT EXISTS market_data_staging (
    symbol text NOT NULL, interval text NOT NULL, ts timestamptz NOT NULL,
    open numeric(20,8) NOT NULL, high numeric(20,8) NOT NULL, low numeric(20,8) NOT NULL, close numeric(20,8) NOT NULL,
    volume numeric(28,8) NOT NULL, vwap numeric(20,8), trade_count integer,
    source text NOT NULL, ingestion_run_id bigint
) ON COMMIT DELETE ROWS`;

/**
 * Rows identical to what is stored are dropped from staging first (a read-only join), so the
 * upsert below locks and writes only new and changed rows: a re-load of unchanged history costs
 * reads, not a new version of every row. The upsert keeps created_at; the touch trigger sets
 * updated_at. A row created by this transaction has created_at = now() (its start time), which
 * tells an insert from an update (the usual xmax = 0 test is refused on partitioned tables); the
 * series lock keeps any other transaction from inserting these keys meanwhile.
 */
const DROP_UNCHANGED = `DELETE FROM pg_temp.market_data_staging s
  USING data_ingestion.market_data m
  WHERE m.symbol = s.symbol AND m.interval = s.interval AND m.ts = s.ts AND m.source = s.source
    -- The batch's own range, spelled out: partitions outside it are pruned and the primary key
    -- is range-scanned, instead of a hash join reading the whole table for every batch.
    AND m.symbol = ANY($1::text[]) AND m.interval = $2 AND m.source = $3 AND m.ts >= $4 AND m.ts <= $5
    AND (m.open, m.high, m.low, m.close, m.volume, m.vwap, m.trade_count)
        IS NOT DISTINCT FROM (s.open, s.high, s.low, s.close, s.volume, s.vwap, s.trade_count)`;

const MERGE = `WITH merged AS (
    INSERT INTO data_ingestion.market_data AS m (${MARKET_DATA_COPY_COLUMNS})
    SELECT ${MARKET_DATA_COPY_COLUMNS} FROM pg_temp.market_data_staging
    ON CONFLICT (symbol, interval, ts, source) DO UPDATE
       SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
           volume = excluded.volume, vwap = excluded.vwap, trade_count = excluded.trade_count,
           ingestion_run_id = excluded.ingestion_run_id
     WHERE (m.open, m.high, m.low, m.close, m.volume, m.vwap, m.trade_count)
           IS DISTINCT FROM (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume, excluded.vwap, excluded.trade_count)
    RETURNING m.symbol, (m.created_at = now()) AS inserted)
  SELECT symbol, count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated
    FROM merged GROUP BY symbol`;

/** Per-symbol inserted counts, which move row_count in symbol_data_status. */
type InsertedBySymbol = Map<string, number>;

/**
 * Loads one batch's bars inside the caller's transaction on `client`, and moves each series'
 * watermark and status with them. The series' status rows are locked first, in symbol order, so
 * concurrent loaders of the same series queue instead of deadlocking, and the watermark they
 * read cannot move under them.
 *
 * Fast path: when every symbol's first bar in the batch lies after its watermark, no stored row
 * can conflict, so the batch is COPYed straight into market_data. Should a row exist after all
 * (loaded by other means), the unique violation rolls back to a savepoint and the batch takes the
 * merge path. The partitions must exist before (see ensure_market_data_partitions).
 */
export async function loadBarBatch(client: pg.ClientBase, batch: BarBatch, series: { source: string; interval: string }): Promise<BatchOutcome> {
  const symbols = [...batch.series.keys()].sort();
  const watermarks = await lockSeries(client, symbols, series);
  const allAfterWatermark = symbols.every((symbol) => {
    const watermark = watermarks.get(symbol);
    return watermark === null || watermark === undefined || batch.series.get(symbol)!.minMs > watermark;
  });

  let outcome: BatchOutcome | undefined;
  let insertedBySymbol: InsertedBySymbol | undefined;
  if (allAfterWatermark) {
    await client.query('SAVEPOINT direct_load');
    try {
      const copied = await copyInto(client, `COPY data_ingestion.market_data (${MARKET_DATA_COPY_COLUMNS}) FROM STDIN`, batch.copyChunks());
      await client.query('RELEASE SAVEPOINT direct_load');
      outcome = { path: 'direct', inserted: copied, updated: 0, unchanged: 0 };
      insertedBySymbol = new Map([...batch.series].map(([symbol, extent]) => [symbol, extent.count]));
    } catch (error) {
      if (!(isServerError(error) && error.code === UNIQUE_VIOLATION)) throw error;
      await client.query('ROLLBACK TO SAVEPOINT direct_load');
    }
  }
  if (!outcome) {
    const merged = await mergeBatch(client, batch, series);
    outcome = merged.outcome;
    insertedBySymbol = merged.insertedBySymbol;
  }

  await client.query(
    `UPDATE data_ingestion.symbol_data_status s
        SET watermark = greatest(s.watermark, v.max_ts), row_count = s.row_count + v.inserted, last_success_at = now()
       FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS v (symbol, max_ts, inserted)
      WHERE s.symbol = v.symbol AND s.source = $4 AND s.interval = $5`,
    [
      symbols,
      symbols.map((symbol) => new Date(batch.series.get(symbol)!.maxMs)),
      symbols.map((symbol) => insertedBySymbol!.get(symbol) ?? 0),
      series.source,
      series.interval,
    ],
  );
  return outcome;
}

/** Creates missing status rows and locks all of them, in symbol order; returns each watermark (epoch ms or null). */
async function lockSeries(client: pg.ClientBase, symbols: string[], series: { source: string; interval: string }): Promise<Map<string, number | null>> {
  await client.query(
    `INSERT INTO data_ingestion.symbol_data_status (symbol, source, interval)
     SELECT s, $2, $3 FROM unnest($1::text[]) WITH ORDINALITY AS u (s, n) ORDER BY n
     ON CONFLICT (symbol, source, interval) DO NOTHING`,
    [symbols, series.source, series.interval],
  );
  const { rows } = await client.query<{ symbol: string; watermark: Date | null }>(
    `SELECT symbol, watermark FROM data_ingestion.symbol_data_status
      WHERE symbol = ANY($1::text[]) AND source = $2 AND interval = $3
      ORDER BY symbol FOR UPDATE`,
    [symbols, series.source, series.interval],
  );
  return new Map(rows.map((row) => [row.symbol, row.watermark === null ? null : row.watermark.getTime()]));
}

async function mergeBatch(client: pg.ClientBase, batch: BarBatch, series: { source: string; interval: string }): Promise<{ outcome: BatchOutcome; insertedBySymbol: InsertedBySymbol }> {
  await client.query(CREATE_STAGING);
  await copyInto(client, `COPY pg_temp.market_data_staging (${MARKET_DATA_COPY_COLUMNS}) FROM STDIN`, batch.copyChunks());
  // Statistics let the planner hash the staged rows rather than loop over them; a small sample
  // is enough to know there are many.
  await client.query('SET LOCAL default_statistics_target = 10');
  await client.query('ANALYZE pg_temp.market_data_staging');
  const { minMs, maxMs } = batch.timeRange();
  await client.query(DROP_UNCHANGED, [[...batch.series.keys()], series.interval, series.source, new Date(minMs), new Date(maxMs)]);
  const { rows } = await client.query<{ symbol: string; inserted: number; updated: number }>(MERGE);
  const insertedBySymbol: InsertedBySymbol = new Map(rows.map((row) => [row.symbol, row.inserted]));
  const inserted = rows.reduce((sum, row) => sum + row.inserted, 0);
  const updated = rows.reduce((sum, row) => sum + row.updated, 0);
  return { outcome: { path: 'merge', inserted, updated, unchanged: batch.barCount - inserted - updated }, insertedBySymbol };
}
