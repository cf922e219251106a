import type pg from 'pg';
import type { Queryable } from '../db/queryable.ts';
import type { Redis } from 'ioredis';
import type { Config } from '../config/load-config.ts';
import { listenForNotifications } from '../db/notification-listener.ts';
import { TOPICS } from './event-catalog.ts';
import { ENVELOPE_SQL, readableEnvelopes, type EventEnvelope } from './event-envelope.ts';
import { EventHandling, type EventHandler, type OutcomeCounts } from './event-handling.ts';
import { OutboxRelay, type OutboxRelayOptions } from './outbox-relay.ts';
import { PostgresStreamConsumer } from './postgres-stream-consumer.ts';
import { POSTGRES_STREAM_CHANNEL, PostgresStreamSink } from './postgres-stream-sink.ts';
import { connectRedis, redisReady } from './redis-connection.ts';
import { RedisStreamConsumer } from './redis-stream-consumer.ts';
import { RedisStreamSink } from './redis-stream-sink.ts';
import { streamNames, type StreamNames } from './stream-names.ts';

export interface SubscribeOptions {
  /** The consumer group, e.g. 'analytics.live-portfolio': each group handles every event once. */
  group: string;
  topics: string[];
  /** The handling service's pool; the handler gets a transaction on it. */
  pool: pg.Pool;
  handle: EventHandler;
  batchSize?: number;
  /** Redis: an unacknowledged entry is claimed again after this long (default 5000 ms). */
  reclaimIdleMs?: number;
  /** PostgreSQL stream: polling interval and retry delay after a failure (default 1000 ms each). */
  pollIntervalMs?: number;
  retryDelayMs?: number;
  consumerName?: string;
  onError?: (error: unknown) => void;
}

export interface EventConsumer {
  readonly counts: OutcomeCounts;
  stop(): Promise<void>;
}

export interface GroupLag {
  group: string;
  topic: string;
  /** Delivered to a consumer and not yet acknowledged (Redis only). */
  pending: number | null;
  /** Events in the stream the group has not read yet; null when Redis cannot tell. */
  lag: number | null;
}

/**
 * The event bus, the same API with Redis (REDIS_URL/REDIS_HOST set) and without: events are
 * written to the outbox (publishEvent, or the trading tables' triggers) and reach consumers
 * through the relay, via Redis Streams or via the outbox itself as a PostgreSQL stream.
 */
export interface EventBus {
  readonly mode: 'redis' | 'postgres';
  /** A relay over the outbox; `pool` must be the owner role's. */
  createRelay(options: Omit<OutboxRelayOptions, 'sink' | 'retentionMs'> & { retentionMs?: number }): OutboxRelay;
  /** Starts a consumer of `topics` in `group`. */
  subscribe(options: SubscribeOptions): Promise<EventConsumer>;
  /** Live events of `topics` as they are published (no group, no acknowledgement, nothing replayed). */
  listen(pool: pg.Pool, topics: string[], onEvent: (event: EventEnvelope) => void): Promise<{ close(): Promise<void> }>;
  /** Each consumer group's lag, per topic. */
  lag(db: Queryable): Promise<GroupLag[]>;
  /** Resolves when the bus's own transport answers (Redis PING; without Redis there is none of its own). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function createEventBus(config: Pick<Config, 'redis' | 'events'>): EventBus {
  return config.redis.url ? new RedisEventBus(config, config.redis.url) : new PostgresEventBus(config);
}

class RedisEventBus implements EventBus {
  readonly mode = 'redis';
  private readonly redis: Redis;
  private readonly names: StreamNames;
  private readonly extraConnections = new Set<Redis>();

  constructor(
    private readonly config: Pick<Config, 'redis' | 'events'>,
    private readonly url: string,
  ) {
    this.redis = connectRedis(url, 'tradedb:events');
    this.names = streamNames(config.redis.prefix);
  }

  createRelay(options: Omit<OutboxRelayOptions, 'sink' | 'retentionMs'> & { retentionMs?: number }): OutboxRelay {
    return new OutboxRelay({
      retentionMs: this.config.events.retentionMs,
      ...options,
      sink: new RedisStreamSink(this.redis, this.names, this.config.events.streamMaxLength),
    });
  }

  async subscribe(options: SubscribeOptions): Promise<EventConsumer> {
    await redisReady(this.redis);
    const blockingRedis = this.connection('tradedb:consumer', true);
    const consumer = new RedisStreamConsumer({
      ...options,
      handling: new EventHandling({ group: options.group, handle: options.handle, maxAttempts: this.config.events.maxAttempts }),
      redis: this.redis,
      blockingRedis,
      names: this.names,
    });
    await consumer.start();
    return {
      counts: consumer.counts,
      stop: async () => {
        await consumer.stop();
        this.release(blockingRedis);
      },
    };
  }

  async listen(_pool: pg.Pool, topics: string[], onEvent: (event: EventEnvelope) => void): Promise<{ close(): Promise<void> }> {
    const subscriber = this.connection('tradedb:listener', true);
    subscriber.on('message', (_channel: string, message: string) => {
      let batch: unknown;
      try {
        batch = JSON.parse(message);
      } catch {
        return;
      }
      if (Array.isArray(batch)) for (const event of readableEnvelopes(batch)) onEvent(event);
    });
    // The connection refuses commands until it is ready (no offline queue); it re-subscribes by itself after a reconnect.
    try {
      await redisReady(subscriber);
      await subscriber.subscribe(...topics.map((topic) => this.names.channel(topic)));
    } catch (error) {
      this.release(subscriber);
      throw error;
    }
    return { close: async () => this.release(subscriber) };
  }

  async ping(): Promise<void> {
    await redisReady(this.redis);
    await this.redis.ping();
  }

  async lag(): Promise<GroupLag[]> {
    await redisReady(this.redis);
    const lags: GroupLag[] = [];
    for (const topic of TOPICS) {
      const stream = this.names.stream(topic);
      if (!(await this.redis.exists(stream))) continue;
      const groups = (await this.redis.xinfo('GROUPS', stream)) as Array<Array<string | number | null>>;
      for (const fields of groups) {
        const info = Object.fromEntries(pairs(fields));
        lags.push({
          group: String(info['name']),
          topic,
          pending: Number(info['pending']),
          lag: info['lag'] === null || info['lag'] === undefined ? null : Number(info['lag']),
        });
      }
    }
    return lags;
  }

  async close(): Promise<void> {
    for (const connection of this.extraConnections) connection.disconnect();
    this.extraConnections.clear();
    this.redis.disconnect();
  }

  private connection(name: string, blocking: boolean): Redis {
    const connection = connectRedis(this.url, name, { blocking });
    this.extraConnections.add(connection);
    return connection;
  }

  private release(connection: Redis): void {
    connection.disconnect();
    this.extraConnections.delete(connection);
  }
}

class PostgresEventBus implements EventBus {
  readonly mode = 'postgres';

  constructor(private readonly config: Pick<Config, 'redis' | 'events'>) {}

  createRelay(options: Omit<OutboxRelayOptions, 'sink' | 'retentionMs'> & { retentionMs?: number }): OutboxRelay {
    return new OutboxRelay({ retentionMs: this.config.events.retentionMs, ...options, sink: new PostgresStreamSink() });
  }

  async subscribe(options: SubscribeOptions): Promise<EventConsumer> {
    const consumer = new PostgresStreamConsumer({
      ...options,
      handling: new EventHandling({ group: options.group, handle: options.handle, maxAttempts: this.config.events.maxAttempts }),
    });
    await consumer.start();
    return consumer;
  }

  async listen(pool: pg.Pool, topics: string[], onEvent: (event: EventEnvelope) => void): Promise<{ close(): Promise<void> }> {
    const start = await pool.query<{ seq: string }>('SELECT coalesce(max(stream_seq), 0) AS seq FROM shared.event_outbox');
    let last = start.rows[0]!.seq;
    let reading: Promise<void> = Promise.resolve();
    const readNew = async (): Promise<void> => {
      const rows = await pool.query<{ stream_seq: string; envelope: unknown }>(
        `SELECT stream_seq, ${ENVELOPE_SQL}::json AS envelope FROM shared.event_outbox o WHERE stream_seq > $1 AND topic = ANY($2::text[]) ORDER BY stream_seq`,
        [last, topics],
      );
      last = rows.rows.at(-1)?.stream_seq ?? last;
      for (const event of readableEnvelopes(rows.rows.map((row) => row.envelope))) onEvent(event);
    };
    const listener = await listenForNotifications(pool, POSTGRES_STREAM_CHANNEL, () => {
      reading = reading.then(readNew).catch(() => undefined);
    });
    return {
      close: async () => {
        await listener.close();
        await reading;
      },
    };
  }

  async ping(): Promise<void> {}

  async lag(db: Queryable): Promise<GroupLag[]> {
    const result = await db.query<{ consumer_group: string; topic: string; lag: string }>(
      `SELECT c.consumer_group, t.topic,
              (SELECT count(*) FROM shared.event_outbox o WHERE o.stream_seq > c.last_seq AND o.topic = t.topic) AS lag
         FROM shared.event_consumer_offsets c
        CROSS JOIN LATERAL unnest(c.topics) AS t (topic)
        ORDER BY 1, 2`,
    );
    return result.rows.map((row) => ({ group: row.consumer_group, topic: row.topic, pending: null, lag: Number(row.lag) }));
  }

  async close(): Promise<void> {}
}

function pairs(fields: Array<string | number | null>): Array<[string, string | number | null]> {
  const result: Array<[string, string | number | null]> = [];
  for (let index = 0; index + 1 < fields.length; index += 2) result.push([String(fields[index]), fields[index + 1] ?? null]);
  return result;
}
