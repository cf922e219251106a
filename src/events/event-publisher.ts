import type { Queryable } from '../db/queryable.ts';
import { currentCorrelation } from '../shared/correlation.ts';
import { topicOf, type EventPayload, type EventType } from './event-catalog.ts';
import { validatePayload } from './event-envelope.ts';

export interface PublishRequest<T extends EventType> {
  type: T;
  aggregate: { type: string; id: string; version?: number | undefined };
  payload: EventPayload<T>;
  /** Default: the correlation in progress (correlation.ts), else none. */
  correlationId?: string | undefined;
  causationId?: string | undefined;
  /** A fixed id makes publishing idempotent: the same id is stored once. Default: a new UUID. */
  eventId?: string | undefined;
}

/**
 * Writes an event into the outbox through `db`, which should be the transaction of the change
 * the event reports: the event exists if and only if the change committed. The payload is
 * checked against the catalogue first (InvalidEventError names the field; nothing is written).
 * Returns the event id, or null when an event with the given id was already stored.
 */
export async function publishEvent<T extends EventType>(db: Queryable, request: PublishRequest<T>): Promise<string | null> {
  const payload = validatePayload(request.type, request.payload);
  const context = currentCorrelation();
  const result = await db.query<{ event_id: string | null }>(
    'SELECT shared.publish_event($1, $2, $3, $4, $5, $6, $7, $8, $9) AS event_id',
    [
      topicOf(request.type),
      request.type,
      request.aggregate.type,
      request.aggregate.id,
      request.aggregate.version ?? null,
      JSON.stringify(payload),
      request.correlationId ?? context?.correlationId ?? null,
      request.causationId ?? context?.causationId ?? null,
      request.eventId ?? null,
    ],
  );
  return result.rows[0]!.event_id;
}
