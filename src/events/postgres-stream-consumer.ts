import type pg from 'pg';
import { listenForNotifications, type NotificationListener } from '../db/notification-listener.ts';
import { withTransaction } from '../db/transaction.ts';
import { ENVELOPE_SQL } from './event-envelope.ts';
import { OutcomeCounts, type EventHandling } from './event-handling.ts';
import { POSTGRES_STREAM_CHANNEL } from './postgres-stream-sink.ts';
import { Wakeup } from './wakeup.ts';

export interface PostgresConsumerOptions {
  handling: EventHandling;
  topics: string[];
  /** The handling service's pool. */
  pool: pg.Pool;
  batchSize?: number;
  /** Looks for events this often without a notification; default 1000 ms. */
  pollIntervalMs?: number;
  /** After a handler failure, the event is tried again this much later; default 1000 ms. */
  retryDelayMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * A consumer group over the PostgreSQL stream (no Redis): the group's cursor is a row in
 * shared.event_consumer_offsets, locked by the transaction that handles the next batch, so one
 * consumer of a group reads at a time (the others wait as standbys) and events are handled in
 * stream order. Each event runs under a savepoint; the cursor moves in the same transaction as
 * the handlers' effects, so a consumer killed mid-batch leaves the cursor where it was.
 */
export class PostgresStreamConsumer {
  readonly counts = new OutcomeCounts();
  private stopped = false;
  private running: Promise<void> | undefined;
  private listener: NotificationListener | undefined;
  private readonly wakeup = new Wakeup();

  constructor(private readonly options: PostgresConsumerOptions) {}

  async start(): Promise<void> {
    this.listener = await listenForNotifications(this.options.pool, POSTGRES_STREAM_CHANNEL, () => this.wakeup.wake(), this.options.onError);
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeup.wake();
    await this.running;
    await this.listener?.close();
  }

  /** Handles the next batch; 'busy' when another consumer of the group holds the cursor. */
  async consumeOnce(): Promise<{ handled: number; failed: boolean; busy: boolean }> {
    const { handling, pool } = this.options;
    const batch = await withTransaction(pool, async (tx) => {
      const locked = await tx.query<{ position: string | null }>('SELECT shared.lock_event_offset($1, $2) AS position', [handling.group, this.options.topics]);
      const position = locked.rows[0]!.position;
      if (position === null) return { handled: 0, failed: false, busy: true, outcomes: [] };
      const rows = await tx.query<{ stream_seq: string; envelope: string }>(
        `SELECT stream_seq, ${ENVELOPE_SQL} AS envelope FROM shared.event_outbox o
          WHERE stream_seq > $1 AND topic = ANY($2::text[])
          ORDER BY stream_seq
          LIMIT $3`,
        [position, this.options.topics, this.options.batchSize ?? 100],
      );
      // In stream order; a failed event stops the batch, to be tried again first.
      const outcomes = await handling.handleBatch(tx, rows.rows.map((row) => row.envelope), { stopAtFailure: true, onError: this.options.onError });
      const failed = outcomes.at(-1) === 'failed';
      const handled = failed ? outcomes.length - 1 : outcomes.length;
      const last = handled > 0 ? rows.rows[handled - 1]!.stream_seq : position;
      if (last !== position) await tx.query('SELECT shared.advance_event_offset($1, $2)', [handling.group, last]);
      return { handled, failed, busy: false, outcomes };
    });
    // Counted once committed: whoever reads the counts then sees the handlers' effects.
    batch.outcomes.forEach((outcome) => this.counts.add(outcome));
    return { handled: batch.handled, failed: batch.failed, busy: batch.busy };
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const batch = await this.consumeOnce();
        failures = 0;
        // Not cut short by new events: a failing event waits its turn.
        if (batch.failed) await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 1_000));
        else if (batch.handled === 0) await this.wakeup.wait(this.options.pollIntervalMs ?? 1_000);
      } catch (error) {
        if (this.stopped) break;
        this.options.onError?.(error);
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2_000)));
      }
    }
  }

}
