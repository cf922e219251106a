import type pg from 'pg';
/** An outbox row the relay has claimed: its place in the outbox, its id and topic, and the envelope as JSON. */
export interface ClaimedEvent {
  outboxId: bigint;
  eventId: string;
  topic: string;
  json: string;
}

/**
 * Where the relay puts events: Redis Streams, or (without Redis) the PostgreSQL stream, i.e.
 * the outbox rows themselves, numbered. The relay marks the rows sent and publishes them in one
 * transaction that commits after the sink has them; a crash before the commit publishes them
 * again, which consumers absorb.
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
