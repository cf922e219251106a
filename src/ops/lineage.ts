import type pg from 'pg';
import { withAccountTransaction } from '../db/account-transaction.ts';
import { UserFacingError } from '../db/errors.ts';
import type { Queryable } from '../db/queryable.ts';

/** Where a row came from: the row, then each row it points back to, nearest first. */
export interface Lineage {
  steps: Array<{ what: string; row: Record<string, unknown> }>;
}

async function one(db: Queryable, sql: string, values: unknown[]): Promise<Record<string, unknown> | undefined> {
  return (await db.query<{ row: Record<string, unknown> }>(sql, values)).rows[0]?.row;
}

/**
 * An ingested row and the ingestion run that wrote it last (source, parameters, counters, who
 * started it, and how many rows that run rejected: their reasons are `tradedb quality --run N`).
 */
async function ingestedRowLineage(db: Queryable, what: string, rowSql: string, values: unknown[], notFound: string): Promise<Lineage> {
  const row = await one(db, rowSql, values);
  if (!row) throw new UserFacingError(notFound);
  const steps: Lineage['steps'] = [{ what, row }];
  if (row.ingestion_run_id !== null) {
    const run = await one(
      db,
      `SELECT to_jsonb(r) || jsonb_build_object('rejected_rows_logged', (SELECT count(*) FROM data_ingestion.data_quality_logs q WHERE q.ingestion_run_id = r.id)) AS row
         FROM data_ingestion.ingestion_runs r WHERE id = $1`,
      [row.ingestion_run_id],
    );
    if (run) steps.push({ what: 'ingestion run', row: run });
  }
  return { steps };
}

/** A bar's lineage: the bar and the ingestion run that wrote it last. */
export async function barLineage(db: Queryable, bar: { symbol: string; interval: string; at: Date; source?: string | undefined }): Promise<Lineage> {
  return ingestedRowLineage(
    db,
    'bar',
    `SELECT to_jsonb(m) - 'created_at' AS row FROM data_ingestion.market_data m
      WHERE symbol = upper($1) AND interval = $2 AND ts = $3 AND ($4::text IS NULL OR source = $4) ORDER BY source LIMIT 1`,
    [bar.symbol, bar.interval, bar.at, bar.source ?? null],
    `No ${bar.interval} bar of ${bar.symbol.toUpperCase()} at ${bar.at.toISOString()}${bar.source ? ` from ${bar.source}` : ''}.`,
  );
}

/** A day's key statistics of a symbol and the ingestion run that wrote them. */
export async function statisticsLineage(db: Queryable, symbol: string, asOf: string): Promise<Lineage> {
  return ingestedRowLineage(
    db,
    'key statistics',
    'SELECT to_jsonb(k) AS row FROM data_ingestion.key_statistics k WHERE symbol = upper($1) AND as_of = $2::date',
    [symbol, asOf],
    `No key statistics of ${symbol.toUpperCase()} as of ${asOf}.`,
  );
}

/** One holder's line of a holders report and the ingestion run that wrote it. */
export async function holderLineage(db: Queryable, symbol: string, reportDate: string, holder: string): Promise<Lineage> {
  return ingestedRowLineage(
    db,
    'institutional holder',
    'SELECT to_jsonb(h) AS row FROM data_ingestion.institutional_holders h WHERE symbol = upper($1) AND report_date = $2::date AND holder = $3',
    [symbol, reportDate, holder],
    `No holder "${holder}" of ${symbol.toUpperCase()} in the report of ${reportDate}.`,
  );
}

/** A symbol's company profile and the ingestion run that wrote it last. */
export async function companyLineage(db: Queryable, symbol: string): Promise<Lineage> {
  return ingestedRowLineage(
    db,
    'company profile',
    "SELECT to_jsonb(c) - 'description' AS row FROM data_ingestion.company_info c WHERE symbol = upper($1)",
    [symbol],
    `No company profile of ${symbol.toUpperCase()}.`,
  );
}

/**
 * A trade's lineage, inside the account's row-level security: the fill, its order (with every
 * state change and the events it published), the signal the order came from and its strategy.
 */
export async function tradeLineage(executionPool: pg.Pool, accountId: string, tradeId: number): Promise<Lineage> {
  return withAccountTransaction(
    executionPool,
    accountId,
    async (client) => {
      const trade = await one(client, 'SELECT to_jsonb(t) AS row FROM execution.trades t WHERE account_id = $1 AND id = $2', [accountId, tradeId]);
      if (!trade) throw new UserFacingError(`No trade ${tradeId} in account ${accountId}.`);
      const steps: Lineage['steps'] = [{ what: 'trade', row: trade }];
      const order = await one(
        client,
        `SELECT to_jsonb(o) || jsonb_build_object(
                  'history', (SELECT jsonb_agg(jsonb_build_object('from', e.from_status, 'to', e.to_status, 'reason', e.reason, 'at', e.occurred_at) ORDER BY e.id)
                                FROM execution.order_events e WHERE e.account_id = o.account_id AND e.order_id = o.id),
                  'events', (SELECT jsonb_agg(jsonb_build_object('type', x.event_type, 'at', x.occurred_at, 'correlationId', x.correlation_id) ORDER BY x.id)
                               FROM shared.event_outbox x WHERE x.aggregate_type = 'order' AND x.aggregate_id = o.account_id || '/' || o.id)) AS row
           FROM execution.orders o WHERE account_id = $1 AND id = $2`,
        [accountId, trade.order_id],
      );
      if (!order) return { steps };
      steps.push({ what: 'order', row: order });
      if (order.signal_id !== null) {
        const signal = await one(client, 'SELECT to_jsonb(s) AS row FROM strategy_engine.strategy_signals s WHERE id = $1', [order.signal_id]);
        if (signal) steps.push({ what: 'signal', row: signal });
      }
      if (order.strategy_id !== null) {
        const strategy = await one(client, "SELECT to_jsonb(s) - 'description' AS row FROM strategy_engine.strategies s WHERE id = $1", [order.strategy_id]);
        if (strategy) steps.push({ what: 'strategy', row: strategy });
      }
      return { steps };
    },
    { readOnly: true },
  );
}

/** One block a step: its name, then `key: value` lines (objects as JSON). */
export function formatLineage(lineage: Lineage): string {
  return lineage.steps
    .map(({ what, row }, index) =>
      [`${'  '.repeat(index)}${index === 0 ? '' : '<- '}${what}`, ...Object.entries(row).map(([key, value]) => `${'  '.repeat(index + 1)}${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`)].join('\n'),
    )
    .join('\n');
}
