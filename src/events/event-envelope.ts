import { z } from 'zod';
import { EVENT_CATALOG, isEventType, type EventType } from './event-catalog.ts';

/** What travels: the outbox row's facts, the same in Redis and in the PostgreSQL stream. */
export interface EventEnvelope<P = Record<string, unknown>> {
  eventId: string;
  type: EventType;
  topic: string;
  aggregate: { type: string; id: string; version: number | null };
  occurredAt: string;
  correlationId: string | null;
  causationId: string | null;
  payload: P;
}

/** An event that does not match its schema; `field` is the path of the first bad field. */
export class InvalidEventError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

const envelopeSchema = z.object({
  eventId: z.uuid(),
  type: z.string(),
  topic: z.string(),
  aggregate: z.object({ type: z.string().min(1), id: z.string().min(1), version: z.number().int().nullable() }),
  occurredAt: z.string(),
  correlationId: z.string().nullable(),
  causationId: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()),
});

/** Checks a payload against its type's schema; throws InvalidEventError naming the field. */
export function validatePayload(type: string, payload: unknown): Record<string, unknown> {
  if (!isEventType(type)) throw new InvalidEventError(`unknown event type "${type}"`, 'type');
  const result = EVENT_CATALOG[type].payload.safeParse(payload);
  if (!result.success) throw fieldError(`${type} payload`, result.error, 'payload');
  return result.data as Record<string, unknown>;
}

/** Parses an envelope that arrived as JSON (a stream entry), payload included. */
export function parseEnvelope(json: string): EventEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InvalidEventError('event is not JSON', '(event)');
  }
  return toEnvelope(raw);
}

/** Checks an already parsed value as an envelope, payload included. */
export function toEnvelope(raw: unknown): EventEnvelope {
  const result = envelopeSchema.safeParse(raw);
  if (!result.success) throw fieldError('event envelope', result.error);
  const envelope = result.data;
  validatePayload(envelope.type, envelope.payload);
  return envelope as EventEnvelope;
}

/** Live views: the readable envelopes among `values`; a consumer group dead-letters the rest. */
export function readableEnvelopes(values: unknown[]): EventEnvelope[] {
  return values.flatMap((value) => {
    try {
      return [toEnvelope(value)];
    } catch {
      return [];
    }
  });
}

/** The envelope JSON of an outbox row aliased `o`, as relays and consumers select it (migration 0005). */
export const ENVELOPE_SQL = 'shared.event_envelope(o)';

function fieldError(what: string, error: z.ZodError, prefix?: string): InvalidEventError {
  const issue = error.issues[0]!;
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(event)';
  return new InvalidEventError(`${what}: ${field}: ${issue.message}`, field);
}
