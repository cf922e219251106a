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

/**
 * The columns of an outbox row aliased `o` that envelopeJson builds the envelope from: the relay
 * claims these instead of ENVELOPE_SQL, so that the claim (on the relay's critical path, in one
 * server process) does not also build the JSON.
 */
export const ENVELOPE_COLUMNS_SQL =
  `o.event_id, o.event_type, o.topic, o.aggregate_type, o.aggregate_id, o.aggregate_version::text AS aggregate_version, ` +
  `pg_catalog.to_char(o.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at, ` +
  `o.correlation_id, o.causation_id, o.payload::text AS payload`;

/** A row of ENVELOPE_COLUMNS_SQL as node-postgres returns it (every column text). */
export interface EnvelopeColumns {
  event_id: string;
  event_type: string;
  topic: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: string | null;
  occurred_at: string;
  correlation_id: string | null;
  causation_id: string | null;
  payload: string;
}

/**
 * The envelope of ENVELOPE_SQL, byte for byte (json_build_object's ` : ` and `, `, its string
 * escapes, which are JSON.stringify's, and the payload's jsonb text as it is).
 */
export function envelopeJson(row: EnvelopeColumns): string {
  return (
    `{"eventId" : "${row.event_id}", "type" : ${JSON.stringify(row.event_type)}, "topic" : ${JSON.stringify(row.topic)}, ` +
    `"aggregate" : {"type" : ${JSON.stringify(row.aggregate_type)}, "id" : ${JSON.stringify(row.aggregate_id)}, "version" : ${row.aggregate_version ?? 'null'}}, ` +
    `"occurredAt" : "${row.occurred_at}", "correlationId" : ${row.correlation_id === null ? 'null' : JSON.stringify(row.correlation_id)}, ` +
    `"causationId" : ${row.causation_id === null ? 'null' : JSON.stringify(row.causation_id)}, "payload" : ${row.payload}}`
  );
}

function fieldError(what: string, error: z.ZodError, prefix?: string): InvalidEventError {
  const issue = error.issues[0]!;
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(event)';
  return new InvalidEventError(`${what}: ${field}: ${issue.message}`, field);
}
