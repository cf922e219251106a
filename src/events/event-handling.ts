import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Queryable } from '../db/queryable.ts';
import { withCorrelation } from '../shared/correlation.ts';
import type { EventEnvelope } from './event-envelope.ts';
import { publishEvent } from './event-publisher.ts';

/** Handles one event inside the transaction that records it as handled. */
export type EventHandler = (event: EventEnvelope, tx: pg.PoolClient) => Promise<void>;

export type HandlingOutcome = 'handled' | 'duplicate' | 'failed' | 'dead-lettered';

/** How a consumer's events went, by outcome. */
export class OutcomeCounts {
  handled = 0;
  duplicate = 0;
  failed = 0;
  deadLettered = 0;

  add(outcome: HandlingOutcome): void {
    if (outcome === 'dead-lettered') this.deadLettered += 1;
    else this[outcome] += 1;
  }
}

export interface HandlingOptions {
  /** The consumer group: each group handles each event once. */
  group: string;
  handle: EventHandler;
  /** Handler failures on one event before it is dead-lettered. */
  maxAttempts: number;
}

/**
 * What both stream consumers (Redis and PostgreSQL) do with an event: mark it processed for the
 * group and run the handler in one transaction (so the effect and the mark commit together,
 * and a redelivered event finds its mark and is skipped), count failures outside it, and set an
 * event aside on the dead-letter stream once it has failed maxAttempts times.
 */
export class EventHandling {
  constructor(private readonly options: HandlingOptions) {}

  get group(): string {
    return this.options.group;
  }

  /** In the caller's transaction: 'duplicate' if the group has handled the event before. */
  async handleIn(client: pg.PoolClient, event: EventEnvelope): Promise<'handled' | 'duplicate'> {
    const correlationId = event.correlationId ?? event.eventId;
    const marked = await client.query<{ fresh: boolean }>(
      `SELECT set_config('tradedb.correlation_id', $1, true), set_config('tradedb.causation_id', $2, true),
              shared.mark_event_processed($3, $2::uuid) AS fresh`,
      [correlationId, event.eventId, this.options.group],
    );
    if (!marked.rows[0]!.fresh) return 'duplicate';
    await withCorrelation({ correlationId, causationId: event.eventId }, () => this.options.handle(event, client));
    return 'handled';
  }

  /**
   * Counts a failure of `event` (through `db`, outside the failed transaction) and dead-letters
   * it once it has failed maxAttempts times. `db` must be a transaction or a pool for which
   * `inTransaction` opens one.
   */
  async failed(db: Queryable, event: EventEnvelope, error: unknown, inTransaction: (work: (tx: Queryable) => Promise<void>) => Promise<void>): Promise<'failed' | 'dead-lettered'> {
    const message = errorText(error);
    const counted = await db.query<{ attempts: number }>('SELECT shared.record_event_failure($1, $2, $3) AS attempts', [
      this.options.group,
      event.eventId,
      message,
    ]);
    const attempts = counted.rows[0]!.attempts;
    if (attempts < this.options.maxAttempts) return 'failed';
    await inTransaction((tx) => this.deadLetter(tx, event, message, attempts));
    return 'dead-lettered';
  }

  /**
   * Handles one event of a batch under a savepoint of the batch's transaction: a failing handler
   * undoes its own work only, and its failure is counted in the same transaction.
   */
  async handleUnderSavepoint(tx: pg.PoolClient, event: EventEnvelope, onError?: (error: unknown) => void): Promise<HandlingOutcome> {
    await tx.query('SAVEPOINT handling_event');
    try {
      const outcome = await this.handleIn(tx, event);
      await tx.query('RELEASE SAVEPOINT handling_event');
      return outcome;
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT handling_event');
      onError?.(error);
      return this.failed(tx, event, error, (work) => work(tx));
    }
  }

  /** Sets the event aside: marked done for the group, and published on the dead-letter topic. */
  async deadLetter(tx: Queryable, event: EventEnvelope | { raw: string }, reason: string, attempts: number): Promise<void> {
    const eventId = 'eventId' in event ? event.eventId : randomUUID();
    const marked = await tx.query<{ fresh: boolean }>("SELECT shared.mark_event_processed($1, $2, 'dead-lettered') AS fresh", [this.options.group, eventId]);
    if (!marked.rows[0]!.fresh) return;
    await publishEvent(tx, {
      type: 'consumer.dead_lettered',
      aggregate: { type: 'consumer_group', id: this.options.group },
      payload: {
        consumerGroup: this.options.group,
        eventId,
        eventType: 'type' in event ? event.type : '(unreadable)',
        topic: 'topic' in event ? event.topic : '(unknown)',
        attempts,
        error: reason,
        event: event as unknown as Record<string, unknown>,
        severity: 'error',
      },
      correlationId: 'correlationId' in event ? (event.correlationId ?? undefined) : undefined,
      causationId: eventId,
    });
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
