import type pg from 'pg';
import type { EventEnvelope } from './event-envelope.ts';

/** An outbox row the relay has claimed: its place in the outbox and the event itself. */
export interface ClaimedEvent {
  outboxId: string;
  envelope: EventEnvelope;
}

/**
 * Where the relay puts events: Redis Streams, or (without Redis) the PostgreSQL stream, i.e.
 * the outbox rows themselves, numbered. The relay publishes, then marks the rows sent in the
 * same transaction; a crash in between publishes them again, which consumers absorb.
 */
export interface StreamSink {
  readonly kind: 'redis' | 'postgres';
  /**
   * Names the sink's current contents. When it changes (a Redis restarted empty), rows the
   * old one had are published again.
   */
  identity(): Promise<string>;
  /** Publishes in the given order, all or (by throwing) none counted. */
  publish(client: pg.PoolClient, events: ClaimedEvent[], identity: string): Promise<void>;
}

/** The sink is no longer the one the batch was claimed for; the batch is rolled back and retried. */
export class SinkChangedError extends Error {
  constructor(expected: string, found: string) {
    super(`the event sink changed from ${expected} to ${found} during a batch`);
    this.name = 'SinkChangedError';
  }
}
