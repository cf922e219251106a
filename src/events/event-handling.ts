import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { serviceLogger } from '../services/logging/logger.ts';
import { withCorrelation } from '../shared/correlation.ts';
import { InvalidEventError, parseEnvelope, type EventEnvelope } from './event-envelope.ts';
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
 * What both stream consumers (Redis and PostgreSQL) do with a batch of events, in one
 * transaction: each event under a savepoint, its group mark and its handler's effects together
 * (a redelivered event finds its mark and is skipped), a failure counted in the same
 * transaction, and an event set aside on the dead-letter topic once it has failed maxAttempts
 * times, or at once when it cannot even be read.
 */
export class EventHandling {
  constructor(private readonly options: HandlingOptions) {}

  get group(): string {
    return this.options.group;
  }

  /**
   * Handles a batch of events as they travelled (envelope JSON) inside the batch's transaction
   * `tx`, in order; with `stopAtFailure` (an ordered stream) the events after a failed one are
   * left for the next batch. Returns one outcome per event handled.
   */
  async handleBatch(tx: pg.PoolClient, jsons: string[], options: { stopAtFailure?: boolean; onError?: ((error: unknown) => void) | undefined } = {}): Promise<HandlingOutcome[]> {
    const outcomes: HandlingOutcome[] = [];
    // Each event runs under a savepoint, released by the next event's first statement (or by
    // COMMIT): one round trip an event before its handler, not three.
    const savepoint = { open: false };
    for (const json of jsons) {
      const outcome = await this.handleJson(tx, json, savepoint, options.onError);
      outcomes.push(outcome);
      if (outcome === 'failed' && options.stopAtFailure) break;
    }
    return outcomes;
  }

  private async handleJson(tx: pg.PoolClient, json: string, savepoint: { open: boolean }, onError?: (error: unknown) => void): Promise<HandlingOutcome> {
    let event: EventEnvelope;
    try {
      event = parseEnvelope(json);
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      await this.deadLetter(tx, { raw: json }, error.message, 1);
      serviceLogger('events').error({ group: this.options.group }, `consumer ${this.options.group}: unreadable event dead-lettered: ${error.message}`);
      return 'dead-lettered';
    }
    try {
      if (!(await this.openAndMark(tx, event, savepoint))) return 'duplicate';
      await withCorrelation({ correlationId: event.correlationId ?? event.eventId, causationId: event.eventId }, () => this.options.handle(event, tx));
      return 'handled';
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT handling_event');
      onError?.(error);
      return this.failed(tx, event, error);
    }
  }

  /**
   * In one round trip: releases the previous event's savepoint, opens this one's, hands the
   * transaction the event's correlation and causation (the outbox triggers stamp them on what
   * the handler writes), and marks the event for the group; false if the group had handled it.
   */
  private async openAndMark(tx: pg.PoolClient, event: EventEnvelope, savepoint: { open: boolean }): Promise<boolean> {
    const literal = pg.escapeLiteral;
    const statements = [
      ...(savepoint.open ? ['RELEASE SAVEPOINT handling_event'] : []),
      'SAVEPOINT handling_event',
      `SELECT set_config('tradedb.correlation_id', ${literal(event.correlationId ?? event.eventId)}, true), set_config('tradedb.causation_id', ${literal(event.eventId)}, true),
              shared.mark_event_processed(${literal(this.options.group)}, ${literal(event.eventId)}::uuid) AS fresh`,
    ];
    // From here a savepoint exists to roll back to, whatever this query does after it.
    savepoint.open = true;
    const results = (await tx.query(statements.join('; '))) as unknown as Array<pg.QueryResult<{ fresh: boolean }>>;
    return results.at(-1)!.rows[0]!.fresh;
  }

  /** Counts a failure of `event` and dead-letters it once it has failed maxAttempts times. */
  private async failed(tx: pg.PoolClient, event: EventEnvelope, error: unknown): Promise<'failed' | 'dead-lettered'> {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const counted = await tx.query<{ attempts: number }>('SELECT shared.record_event_failure($1, $2, $3) AS attempts', [
      this.options.group,
      event.eventId,
      message,
    ]);
    const attempts = counted.rows[0]!.attempts;
    const logged = { group: this.options.group, eventId: event.eventId, eventType: event.type, attempts, correlationId: event.correlationId ?? event.eventId, causationId: event.eventId };
    if (attempts < this.options.maxAttempts) {
      serviceLogger('events').warn(logged, `consumer ${this.options.group}: ${event.type} failed (attempt ${attempts} of ${this.options.maxAttempts}): ${message}`);
      return 'failed';
    }
    serviceLogger('events').error(logged, `consumer ${this.options.group}: ${event.type} dead-lettered after ${attempts} attempts: ${message}`);
    await this.deadLetter(tx, event, message, attempts);
    return 'dead-lettered';
  }

  /** Sets the event aside: marked done for the group, and published on the dead-letter topic. */
  private async deadLetter(tx: pg.PoolClient, event: EventEnvelope | { raw: string }, reason: string, attempts: number): Promise<void> {
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
