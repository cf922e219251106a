import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SinkChangedError, type ClaimedEvent, type StreamSink } from './stream-sink.ts';
import type { StreamNames } from './stream-names.ts';
import { redisReady } from './redis-connection.ts';

/**
 * Publishes to one Redis stream per topic (XADD, trimmed with MAXLEN ~, from a script) and the topic's pub/sub
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
    // Consecutive events of one topic go as one EVAL that XADDs each in order (XADD_EACH): one
    // command instead of one per event, which was most of this process's work per event (a
    // command object, its reply and promise each); the entries are the same.
    let run: string[] = [];
    let runTopic = '';
    const addRun = (): void => {
      if (run.length > 0) pipeline.eval(XADD_EACH, 1, this.names.stream(runTopic), this.maxLength, ...run);
      run = [];
    };
    for (const { topic, json } of events) {
      if (topic !== runTopic || run.length >= MAX_PER_EVAL) {
        addRun();
        runTopic = topic;
      }
      run.push(json);
      const jsons = live.get(topic);
      if (jsons) jsons.push(json);
      else live.set(topic, [json]);
    }
    addRun();
    // Live listeners get one message per topic and batch: a JSON array of envelopes.
    for (const [topic, jsons] of live) pipeline.publish(this.names.channel(topic), `[${jsons.join(',')}]`);
    const results = checked(await pipeline.exec());
    const found = `redis:${String(results[0])}`;
    if (found !== identity) throw new SinkChangedError(identity, found);
  }
}

/** XADDs ARGV[2..] in order to the stream KEYS[1], each as field `event`, trimmed to about ARGV[1] entries. */
const XADD_EACH = "for i = 2, #ARGV do redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i]) end return #ARGV - 1";
/** Events per EVAL: Redis runs nothing else while a script runs. */
const MAX_PER_EVAL = 1000;

/** A pipeline's or transaction's per-command results, or the first command error thrown. */
function checked(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('Redis discarded the commands');
  for (const [error] of results) if (error) throw error;
  return results.map(([, value]) => value);
}
