import type { Queryable } from '../db/queryable.ts';
import type { EventBus, GroupLag } from './event-bus.ts';

export interface EventStatus {
  mode: 'redis' | 'postgres';
  /** Outbox rows not yet published, and how old the oldest is. */
  pending: number;
  oldestPendingSeconds: number | null;
  groups: GroupLag[];
  /** Set when the groups' lag could not be read (Redis down). */
  error?: string;
}

/** The outbox backlog and each consumer group's lag, for `tradedb status`. */
export async function collectEventStatus(bus: EventBus, db: Queryable): Promise<EventStatus> {
  const { rows } = await db.query<{ pending: number; oldest: number | null }>(
    `SELECT count(*)::int AS pending, extract(epoch FROM now() - min(occurred_at))::float8 AS oldest
       FROM shared.event_outbox WHERE published_at IS NULL`,
  );
  const status: EventStatus = { mode: bus.mode, pending: rows[0]!.pending, oldestPendingSeconds: rows[0]!.oldest, groups: [] };
  try {
    status.groups = await bus.lag(db);
  } catch (error) {
    status.error = (error as Error).message;
  }
  return status;
}

export function formatEventStatus(status: EventStatus): string {
  const backlog =
    status.pending === 0 ? 'outbox empty' : `${status.pending} events waiting for the relay, oldest ${Math.round(status.oldestPendingSeconds ?? 0)} s`;
  const lines = [`Events        ${status.mode === 'redis' ? 'Redis Streams' : 'PostgreSQL stream (no Redis)'}, ${backlog}`];
  if (status.error) lines.push(`              consumer lag unknown: ${status.error}`);
  for (const group of status.groups) {
    const pending = group.pending === null ? '' : `, ${group.pending} unacknowledged`;
    lines.push(`              ${group.group} on ${group.topic}: lag ${group.lag ?? '?'}${pending}`);
  }
  return lines.join('\n');
}
