import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { UserFacingError } from '../../db/errors.ts';
import type { ConnectionSource, Queryable } from '../../db/queryable.ts';
import type { Interval } from './interval.ts';

/** Which bars: one symbol's series at one interval, in [from, to), optionally one source. */
export interface BarRange {
  symbol: string;
  interval: Interval;
  /** Inclusive; default: the beginning. */
  from?: Date;
  /** Exclusive; default: no end. */
  to?: Date;
  /** Default: every source (a symbol loaded from two sources gives two bars per time). */
  source?: string;
}

export type BarFormat = 'csv' | 'json';

/** A bar as read back: prices as exact decimal text. */
export interface StoredBar {
  symbol: string;
  interval: string;
  ts: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  vwap: string | null;
  tradeCount: number | null;
  source: string;
}

/** Target intervals of a resample and how their periods are cut (UTC; weeks start on Monday). */
const RESAMPLE_BUCKET: Partial<Record<Interval, string>> = {
  '5m': "date_bin('5 minutes', ts, '2000-01-03 00:00+00')",
  '15m': "date_bin('15 minutes', ts, '2000-01-03 00:00+00')",
  '30m': "date_bin('30 minutes', ts, '2000-01-03 00:00+00')",
  '1h': "date_bin('1 hour', ts, '2000-01-03 00:00+00')",
  '1d': "date_bin('1 day', ts, '2000-01-03 00:00+00')",
  '1wk': "date_bin('7 days', ts, '2000-01-03 00:00+00')",
  '1mo': "date_trunc('month', ts, 'UTC')",
};

/**
 * Timestamps as ISO 8601 UTC and decimals without padding zeros, the same for CSV and JSON. In
 * JSON the decimals are strings: a JSON number would lose digits in most readers.
 */
function barColumns(format: BarFormat): string {
  const decimal = (column: string) => `trim_scale(m.${column})${format === 'json' ? '::text' : ''} AS ${column}`;
  return [
    'm.symbol',
    'm.interval',
    `to_char(m.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ts`,
    ...['open', 'high', 'low', 'close', 'volume', 'vwap'].map(decimal),
    'm.trade_count',
    'm.source',
  ].join(', ');
}

function rangeFilter(range: BarRange, client: pg.ClientBase): string {
  const literal = (value: string) => client.escapeLiteral(value);
  const conditions = [`m.symbol = ${literal(range.symbol)}`, `m.interval = ${literal(range.interval)}`];
  if (range.from) conditions.push(`m.ts >= ${literal(range.from.toISOString())}::timestamptz`);
  if (range.to) conditions.push(`m.ts < ${literal(range.to.toISOString())}::timestamptz`);
  if (range.source) conditions.push(`m.source = ${literal(range.source)}`);
  return conditions.join(' AND ');
}

/** The bars of `range` in the primary key's order, the first `limit` of them if given. */
function orderedBars(range: BarRange, format: BarFormat, client: pg.ClientBase, limit?: number): string {
  const select = `SELECT ${barColumns(format)} FROM data_ingestion.market_data m WHERE ${rangeFilter(range, client)} ORDER BY m.ts, m.source`;
  return limit === undefined ? select : `${select} LIMIT ${Math.trunc(limit)}`;
}

/**
 * The SELECT that `streamBars` copies out, exposed so a benchmark can hand psql the very same
 * statement. COPY takes no parameters, so values are escaped literals. Ordered by the stored
 * m.ts, not the text column of the same name, so the primary key's order is used and nothing is
 * sorted before the first row leaves.
 */
export function barsSelect(range: BarRange, format: BarFormat, client: pg.ClientBase): string {
  const select = orderedBars(range, format, client);
  // JSON lines through COPY's text format: our values hold no backslash, tab or newline
  // (symbols and sources are constrained), so each line is exactly one JSON object.
  return format === 'json' ? `SELECT row_to_json(b) FROM (${select}) AS b` : select;
}

/**
 * One row: `bars`, the bars of `range` (at most `limit`) as the text of one JSON array, each bar
 * as `streamBars` writes it, in the same order; and `count`, how many. The server builds the
 * text, so a caller that sends it on (the API) neither parses nor serializes a bar.
 */
export function barsJsonArraySelect(range: BarRange, client: pg.ClientBase, limit: number): string {
  const select = orderedBars(range, 'json', client, limit);
  return `SELECT count(*)::int AS count, '[' || coalesce(string_agg(row_to_json(b)::text, ',' ORDER BY b.ts, b.source), '') || ']' AS bars FROM (${select}) AS b`;
}

/** A bar in the shape `streamBars` writes as JSON, for the other ways bars are printed. */
export function barAsJson(bar: StoredBar): Record<string, string | number | null> {
  return {
    symbol: bar.symbol,
    interval: bar.interval,
    ts: bar.ts.toISOString().replace('.000Z', 'Z'),
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    vwap: bar.vwap,
    trade_count: bar.tradeCount,
    source: bar.source,
  };
}

/**
 * Streams a series to `out` with COPY ... TO STDOUT: constant memory, at the server's pace,
 * CSV with a header or JSON lines. Returns the number of bars written.
 */
export async function streamBars(pool: ConnectionSource, range: BarRange, format: BarFormat, out: Writable): Promise<number> {
  const client = await pool.connect();
  let broken = false;
  try {
    // Repeatable read: one snapshot for the whole export. A long series streams for as long as
    // the reader takes: the pools' statement timeout guards against runaway queries, not exports.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query('SET LOCAL statement_timeout = 0');
    const options = format === 'csv' ? ' WITH (FORMAT csv, HEADER)' : '';
    const stream = client.query(copyTo(`COPY (${barsSelect(range, format, client)}) TO STDOUT${options}`));
    try {
      await pipeline(stream, out, { end: false });
    } catch (error) {
      // The reader went away (| head) or failed mid-copy. The server is still sending rows, which
      // nobody reads any more: only dropping the connection stops it (a ROLLBACK would queue
      // behind the rest of the copy and wait forever on a stalled socket).
      broken = true;
      throw error;
    }
    await client.query('COMMIT');
    return stream.rowCount ?? 0;
  } finally {
    client.release(broken);
  }
}

const STORED_BAR_COLUMNS = `symbol, interval, ts, trim_scale(open)::text AS open, trim_scale(high)::text AS high,
  trim_scale(low)::text AS low, trim_scale(close)::text AS close, trim_scale(volume)::text AS volume,
  trim_scale(vwap)::text AS vwap, trade_count AS "tradeCount", source`;

/**
 * The newest bar of each symbol at `interval` (optionally from one source); symbols without bars
 * are absent. One index probe per symbol and partition, newest partition first.
 */
export async function latestBars(db: Queryable, symbols: readonly string[], interval: Interval, source?: string): Promise<StoredBar[]> {
  const { rows } = await db.query<StoredBar>(
    `SELECT b.* FROM unnest($1::text[]) AS wanted (symbol)
     CROSS JOIN LATERAL (
       SELECT ${STORED_BAR_COLUMNS} FROM data_ingestion.market_data m
        WHERE m.symbol = wanted.symbol AND m.interval = $2 AND ($3::text IS NULL OR m.source = $3)
        ORDER BY m.ts DESC LIMIT 1) AS b
     ORDER BY b.symbol`,
    [symbols, interval, source ?? null],
  );
  return rows;
}

/**
 * Bars of `range` (stored at range.interval) aggregated into `target` periods in SQL: first open,
 * highest high, lowest low, last close, summed volume and trades, volume-weighted vwap. Periods
 * are UTC (days from midnight UTC, weeks from Monday). One source at a time: mixing sources would
 * double-count volume, so `source` is required when the symbol has several.
 */
export async function resampleBars(db: Queryable, range: BarRange & { source: string }, target: Interval): Promise<StoredBar[]> {
  const bucket = RESAMPLE_BUCKET[target];
  if (!bucket) throw new UserFacingError(`cannot resample into ${target}; targets: ${Object.keys(RESAMPLE_BUCKET).join(', ')}`);
  const { rows } = await db.query<StoredBar>(
    `SELECT symbol, $5::text AS interval, bucket AS ts,
            trim_scale((array_agg(open ORDER BY ts))[1])::text AS open, trim_scale(max(high))::text AS high,
            trim_scale(min(low))::text AS low, trim_scale((array_agg(close ORDER BY ts DESC))[1])::text AS close,
            trim_scale(sum(volume))::text AS volume,
            trim_scale(round(sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL)
                             / nullif(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0), 8))::text AS vwap,
            sum(trade_count)::int AS "tradeCount", source
       FROM (SELECT *, ${bucket} AS bucket FROM data_ingestion.market_data
              WHERE symbol = $1 AND interval = $2 AND source = $6
                AND ($3::timestamptz IS NULL OR ts >= $3) AND ($4::timestamptz IS NULL OR ts < $4)) AS bars
      GROUP BY symbol, source, bucket
      ORDER BY bucket`,
    [range.symbol, range.interval, range.from ?? null, range.to ?? null, target, range.source],
  );
  return rows;
}

/** The sources the symbols have bars from at an interval, by their series status. */
export async function barSources(db: Queryable, symbols: readonly string[], interval: string): Promise<string[]> {
  const { rows } = await db.query<{ source: string }>(
    'SELECT DISTINCT source FROM data_ingestion.symbol_data_status WHERE symbol = ANY($1) AND interval = $2 AND row_count > 0 ORDER BY source',
    [symbols, interval],
  );
  return rows.map((row) => row.source);
}
