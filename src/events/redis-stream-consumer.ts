import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import { withTransaction } from '../db/transaction.ts';
import { OutcomeCounts, type EventHandling } from './event-handling.ts';
import type { StreamNames } from './stream-names.ts';
import { Wakeup } from './wakeup.ts';

export interface RedisConsumerOptions {
  handling: EventHandling;
  topics: string[];
  /** The handling service's pool: handlers run in its transactions. */
  pool: pg.Pool;
  /** For XACK, XAUTOCLAIM and group creation. */
  redis: Redis;
  /** A connection of its own for the blocking XREADGROUP (made with connectRedis(..., { blocking: true })). */
  blockingRedis: Redis;
  names: StreamNames;
  /** Unique per process; default host-pid-random. */
  consumerName?: string;
  batchSize?: number;
  /** An entry unacknowledged this long (a dead consumer's, or one whose handler failed) is claimed again; default 5000 ms. */
  reclaimIdleMs?: number;
  onError?: (error: unknown) => void;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * A member of a Redis consumer group over the topics' streams: XREADGROUP, handle, XACK. An
 * entry is acknowledged only after its handler's transaction committed (or it was found handled
 * before, or dead-lettered); anything else stays pending and is claimed again with XAUTOCLAIM
 * once idle for reclaimIdleMs, by this consumer or another, which is also how a dead consumer's
 * entries get handled. A Redis that restarted empty has no groups: they are created again, and
 * the relay refills the streams from the outbox.
 */
export class RedisStreamConsumer {
  readonly consumerName: string;
  readonly counts = new OutcomeCounts();
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly stopping = new Wakeup();
  private lastReclaim = 0;

  constructor(private readonly options: RedisConsumerOptions) {
    this.consumerName = options.consumerName ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  private get streams(): string[] {
    return this.options.topics.map((topic) => this.options.names.stream(topic));
  }

  async start(): Promise<void> {
    await this.ensureGroups();
    this.running = this.loop();
  }

  /** Lets the entry in hand finish, then stops reading. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.wake();
    this.options.blockingRedis.disconnect();
    await this.running;
  }

  private async ensureGroups(): Promise<void> {
    for (const stream of this.streams) {
      try {
        // From the start of what the stream retains: a new group catches up on recent history.
        await this.options.redis.xgroup('CREATE', stream, this.options.handling.group, '0', 'MKSTREAM');
      } catch (error) {
        if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
      }
    }
  }

  private async loop(): Promise<void> {
    const reclaimIdleMs = this.options.reclaimIdleMs ?? 5_000;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (Date.now() - this.lastReclaim >= Math.min(reclaimIdleMs, 5_000)) {
          this.lastReclaim = Date.now();
          await this.reclaim(reclaimIdleMs);
        }
        const streams = this.streams;
        const reply = (await this.options.blockingRedis.xreadgroup(
          'GROUP', this.options.handling.group, this.consumerName,
          'COUNT', this.options.batchSize ?? 100,
          'BLOCK', Math.min(reclaimIdleMs, 1_000),
          'STREAMS', ...streams, ...streams.map(() => '>'),
        )) as Array<[string, StreamEntry[]]> | null;
        for (const [stream, entries] of reply ?? []) await this.processEntries(stream, entries);
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (String((error as Error).message).startsWith('NOGROUP')) {
          await this.ensureGroups().catch((groupError: unknown) => this.options.onError?.(groupError));
          continue;
        }
        this.options.onError?.(error);
        failures += 1;
        await this.stopping.wait(Math.min(50 * 2 ** failures, 2_000));
      }
    }
  }

  /** Claims entries idle longer than `idleMs` in every stream (failed ones, and dead consumers'). */
  private async reclaim(idleMs: number): Promise<void> {
    for (const stream of this.streams) {
      let cursor = '0-0';
      do {
        const [next, entries] = (await this.options.redis.xautoclaim(
          stream, this.options.handling.group, this.consumerName, idleMs, cursor, 'COUNT', this.options.batchSize ?? 100,
        )) as [string, StreamEntry[], string[]];
        await this.processEntries(stream, entries.filter((entry) => entry !== null));
        cursor = next;
      } while (cursor !== '0-0' && !this.stopped);
    }
  }

  /**
   * Handles entries in one transaction, each under a savepoint, then acknowledges in one XACK
   * those that are done (handled, found handled before, or dead-lettered); failed ones stay pending.
   */
  private async processEntries(stream: string, entries: StreamEntry[]): Promise<void> {
    if (entries.length === 0 || this.stopped) return;
    const { handling, pool } = this.options;
    const outcomes = await withTransaction(pool, (tx) =>
      handling.handleBatch(tx, entries.map(([, fields]) => fields[fields.indexOf('event') + 1] ?? ''), { onError: this.options.onError }),
    );
    // Counted once committed: whoever reads the counts then sees the handlers' effects.
    outcomes.forEach((outcome) => this.counts.add(outcome));
    const done = entries.filter((_, index) => outcomes[index] !== 'failed').map(([id]) => id);
    if (done.length > 0) await this.options.redis.xack(stream, handling.group, ...done);
  }
}
