import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SinkChangedError, type ClaimedEvent, type StreamSink } from './stream-sink.ts';
import type { StreamNames } from './stream-names.ts';
import { redisReady } from './redis-connection.ts';

/**
 * Publishes to one Redis stream per topic (XADD, trimmed with MAXLEN ~) and the topic's pub/sub
 * channel (one message per batch), in one pipeline. The sink's identity is a random id kept in Redis (SET NX): a Redis that
 * restarted empty has none, gets a new one, and the relay refills it from the retained outbox.
 */
export class RedisStreamSink implements StreamSink {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly names: StreamNames,
    private readonly maxLength: number,
  ) {}

  async identity(): Promise<string> {
    await redisReady(this.redis);
    const results = await this.redis.multi().set(this.names.sinkId, randomUUID(), 'NX').get(this.names.sinkId).exec();
    return `redis:${String(checked(results)[1])}`;
  }

  async publish(_client: unknown, events: ClaimedEvent[], identity: string): Promise<void> {
    // A pipeline runs on one connection in order: the GET first proves every XADD after it went
    // to the Redis the batch was claimed for (a restarted one would have cut the connection).
    const pipeline = this.redis.pipeline().get(this.names.sinkId);
    const live = new Map<string, string[]>();
    for (const { topic, json } of events) {
      pipeline.xadd(this.names.stream(topic), 'MAXLEN', '~', this.maxLength, '*', 'event', json);
      live.set(topic, [...(live.get(topic) ?? []), json]);
    }
    // Live listeners get one message per topic and batch: a JSON array of envelopes.
    for (const [topic, jsons] of live) pipeline.publish(this.names.channel(topic), `[${jsons.join(',')}]`);
    const results = checked(await pipeline.exec());
    const found = `redis:${String(results[0])}`;
    if (found !== identity) throw new SinkChangedError(identity, found);
  }
}

/** A pipeline's or transaction's per-command results, or the first command error thrown. */
function checked(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('Redis discarded the commands');
  for (const [error] of results) if (error) throw error;
  return results.map(([, value]) => value);
}
