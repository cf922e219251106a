import type { Config } from '../../config/load-config.ts';
import type { Pools } from '../../db/pools.ts';
import type { Queryable } from '../../db/queryable.ts';
import { createEventBus, type EventConsumer } from '../../events/event-bus.ts';
import type { EventEnvelope } from '../../events/event-envelope.ts';
import type { EventHandler } from '../../events/event-handling.ts';
import { performanceIn } from './portfolio-analytics.ts';

export const LIVE_ANALYTICS_GROUP = 'analytics.live';
// Positions change only by fills, and each fill's trade event names its day (a position event
// carries only the time it was written, not the fill's): trades stand for both.
const TOPICS = ['trades', 'ingestion'];

/** The UTC calendar day of an instant. */
function utcDay(instant: string): string {
  return new Date(instant).toISOString().slice(0, 10);
}

/** The accounts and days whose close an event changes. */
async function affectedDays(event: EventEnvelope, db: Queryable): Promise<Array<{ accountId: string; day: string }>> {
  const payload = event.payload as Record<string, unknown>;
  switch (event.type) {
    case 'trade.executed':
      return [{ accountId: String(payload.accountId), day: utcDay(String(payload.executedAt)) }];
    case 'ingestion.run_finished': {
      // New bars reprice whatever is held: every active account's day of the run.
      if (Number(payload.rowsInserted) + Number(payload.rowsUpdated) === 0) return [];
      // Row-level security hides shared.accounts from this role: migration 0008's door lists the ids.
      const { rows } = await db.query<{ accountId: string }>('SELECT id AS "accountId" FROM shared.active_account_ids() AS id');
      return rows.map(({ accountId }) => ({ accountId, day: utcDay(String(payload.finishedAt)) }));
    }
    default:
      return [];
  }
}

/**
 * Live analytics: each trade (and so each position change) and ingestion run recomputes, in the handler's
 * transaction, the close of the day it touches (analytics.portfolio_summary at the day's two
 * midnights and its `daily` performance_metrics row), with the very computation the end-of-day
 * flow runs from raw tables, so the nightly recompute finds the same numbers. Handled once per
 * event (consumer group `analytics.live`).
 */
export const keepAnalyticsCurrent: EventHandler = async (event, tx) => {
  for (const { accountId, day } of await affectedDays(event, tx)) {
    // Row-level security: the summaries are the account's rows.
    await tx.query("SELECT set_config('tradedb.account_id', $1, true)", [accountId]);
    await performanceIn(tx, accountId, day, day, 'daily');
  }
};

/** Runs the live analytics consumer on the analytics pool until stop(); `npm start` runs one. */
export async function startLiveAnalytics(config: Pick<Config, 'redis' | 'events'>, pools: Pools): Promise<{ consumer: EventConsumer; stop(): Promise<void> }> {
  const bus = createEventBus(config);
  try {
    const consumer = await bus.subscribe({ group: LIVE_ANALYTICS_GROUP, topics: TOPICS, pool: pools.services.analytics, handle: keepAnalyticsCurrent });
    return {
      consumer,
      async stop() {
        await consumer.stop();
        await bus.close();
      },
    };
  } catch (error) {
    await bus.close();
    throw error;
  }
}
