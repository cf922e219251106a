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

/** Outbox rows the relay has not published yet, and the age of the oldest in seconds. */
export async function outboxBacklog(db: Queryable): Promise<Pick<EventStatus, 'pending' | 'oldestPendingSeconds'>> {
  const { rows } = await db.query<{ pending: number; oldest: number | null }>(
    `SELECT count(*)::int AS pending, extract(epoch FROM now() - min(occurred_at))::float8 AS oldest
       FROM shared.event_outbox WHERE published_at IS NULL`,
  );
  return { pending: rows[0]!.pending, oldestPendingSeconds: rows[0]!.oldest };
}

/** The outbox backlog and each consumer group's lag, for `tradedb status`. */
export async function collectEventStatus(bus: EventBus, db: Queryable): Promise<EventStatus> {
  const status: EventStatus = { mode: bus.mode, ...(await outboxBacklog(db)), groups: [] };
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
  // One line a group: its total lag, and the topics behind (a group may read every topic).
  const groups = new Map<string, GroupLag[]>();
  for (const row of status.groups) groups.set(row.group, [...(groups.get(row.group) ?? []), row]);
  for (const [group, rows] of groups) {
    const unknown = rows.some((row) => row.lag === null);
    const lag = rows.reduce((sum, row) => sum + (row.lag ?? 0), 0);
    const behind = rows.filter((row) => (row.lag ?? 0) > 0).map((row) => `${row.topic} ${row.lag}`);
    const pending = rows.some((row) => row.pending !== null) ? `, ${rows.reduce((sum, row) => sum + (row.pending ?? 0), 0)} unacknowledged` : '';
    const topics = rows.length === 1 ? `on ${rows[0]!.topic}` : `over ${rows.length} topics`;
    lines.push(`              ${group} ${topics}: lag ${unknown && lag === 0 ? '?' : lag}${behind.length > 0 && rows.length > 1 ? ` (${behind.join(', ')})` : ''}${pending}`);
  }
  return lines.join('\n');
}
