import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Queryable } from '../../src/db/queryable.ts';
import { publishEvent } from '../../src/events/event-publisher.ts';
import { openTradingDatabase, type TradingDatabase } from './trading-database.ts';

export { recordingHandler } from './recording-handler.ts';

/** A test file's trading database (the owner pool runs relays) with a table handlers write. */
export type EventDatabase = TradingDatabase;

export async function openEventDatabase(label: string): Promise<EventDatabase> {
  const trading = await openTradingDatabase(label, { accounts: ['acct-e'], symbols: ['EVT'] });
  // Created by the owner, so that analytics_user may write it (02's default privileges).
  await trading.owner.query(`CREATE TABLE analytics.test_effects (
      event_id uuid NOT NULL, aggregate_id text NOT NULL, version bigint, consumer text, handled_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  return trading;
}

/** Publishes `count` position events over `aggregates` positions named PREFIX0, PREFIX1, ..., versions 1, 2, ... per position. */
export async function publishPositionEvents(pool: Queryable, count: number, aggregates = 10, symbolPrefix = 'S', firstVersion = 1): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const symbol = `${symbolPrefix}${index % aggregates}`;
    const version = firstVersion + Math.floor(index / aggregates);
    const eventId = randomUUID();
    await publishEvent(pool, {
      type: 'position.changed',
      aggregate: { type: 'position', id: `acct-e/${symbol}`, version },
      payload: { accountId: 'acct-e', symbol, quantity: String(version), averageCost: '1', realizedPnl: '0', version },
      eventId,
    });
    ids.push(eventId);
  }
  return ids;
}

/** Rows in test_effects and distinct events among them: equal means nothing was applied twice. */
export async function effectCounts(pool: Queryable): Promise<{ rows: number; events: number }> {
  const { rows } = await pool.query<{ rows: number; events: number }>(
    'SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS events FROM analytics.test_effects',
  );
  return rows[0]!;
}

/** Configuration of an event bus for tests: quick retries, three attempts before dead-lettering. */
export function busConfig(redisUrl: string | undefined, prefix = `t${randomUUID().slice(0, 8)}`) {
  return {
    redis: { url: redisUrl, prefix },
    events: { retentionMs: 3_600_000, streamMaxLength: 100_000, maxAttempts: 3 },
  };
}
