import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCacheStore, RedisCacheStore } from '../../src/cache/cache-store.ts';
import { ReadThroughCache } from '../../src/cache/read-through-cache.ts';
import { createTradingCache } from '../../src/cache/trading-cache.ts';
import { createEventBus } from '../../src/events/event-bus.ts';
import { connectRedis, redisReady } from '../../src/events/redis-connection.ts';
import { executeOrder } from '../../src/services/execution/order-execution.ts';
import { busConfig, openEventDatabase, type EventDatabase } from '../support/event-harness.ts';
import { redisUnavailableReason, startPrivateRedis, type PrivateRedis } from '../support/redis-server.ts';
import { waitFor } from '../support/wait-for.ts';

/** A loader that counts its calls and answers after `ms`, until released when gated. */
function countingLoader<T>(value: T, ms = 30) {
  const loader = Object.assign(
    async () => {
      loader.calls += 1;
      await new Promise((resolve) => setTimeout(resolve, ms));
      return value;
    },
    { calls: 0 },
  );
  return loader;
}

describe('read-through cache in memory (no Redis)', () => {
  it('50 concurrent gets of a cold key load once; later gets hit; an entry expires', async () => {
    const cache = new ReadThroughCache(new MemoryCacheStore());
    const load = countingLoader({ close: '101.5' });
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', 50, load)));
    expect(values.every((value) => value.close === '101.5')).toBe(true);
    expect(load.calls).toBe(1);
    expect(await cache.get('k', 50, load)).toEqual({ close: '101.5' });
    expect(cache.stats).toMatchObject({ loads: 1, hits: 1 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    await cache.get('k', 50, load);
    expect(load.calls).toBe(2);
  });

  it('a load overtaken by an invalidation does not store the stale value it read', async () => {
    const cache = new ReadThroughCache(new MemoryCacheStore());
    const stale = cache.get('positions:a', 60_000, countingLoader('before the fill', 50));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await cache.invalidate(['positions:a']);
    expect(await stale).toBe('before the fill');
    const fresh = countingLoader('after the fill', 0);
    expect(await cache.get('positions:a', 60_000, fresh)).toBe('after the fill');
    expect(fresh.calls).toBe(1);
  });
});

const unavailable = redisUnavailableReason();
if (unavailable) console.warn(`skipping the Redis cache tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('read-through cache on Redis', () => {
  let redis: PrivateRedis;
  const connections: Redis[] = [];
  // Commands fail fast while a connection is still being made (no offline queue): wait for it.
  const store = async (prefix: string) => {
    const connection = connectRedis(redis.url, 'test:cache');
    connections.push(connection);
    await redisReady(connection);
    return new RedisCacheStore(connection, prefix);
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await redis?.stop();
  });

  it('two processes, 40 concurrent gets of a cold key: one load, the others wait for its value', async () => {
    const first = new ReadThroughCache(await store('stampede'));
    const second = new ReadThroughCache(await store('stampede'));
    const load = countingLoader({ bar: 'ACME' }, 100);
    const values = await Promise.all(Array.from({ length: 40 }, (_, index) => (index % 2 === 0 ? first : second).get('bar:latest:1d:ACME', 60_000, load)));
    expect(values.every((value) => value.bar === 'ACME')).toBe(true);
    expect(load.calls).toBe(1);
    expect(first.stats.waited + second.stats.waited).toBe(1);
  });

  it('Redis away: every get is answered by the source, errors counted, nothing thrown; back, it caches again', async () => {
    const cache = new ReadThroughCache(await store('outage'));
    const load = countingLoader(42, 0);
    expect(await cache.get('x', 60_000, load)).toBe(42);
    await redis.kill();
    expect(await cache.get('x', 60_000, load)).toBe(42);
    expect(await cache.get('x', 60_000, load)).toBe(42);
    expect(load.calls).toBe(3);
    expect(cache.stats.storeErrors).toBeGreaterThan(0);
    await redis.start();
    await waitFor(async () => (await cache.get('x', 60_000, load)) === 42 && cache.stats.hits > 0, { timeoutMs: 10_000, intervalMs: 100 });
  });
});

describe('the trading cache, invalidated by events', () => {
  let db: EventDatabase;
  beforeAll(async () => {
    db = await openEventDatabase('cache');
  });
  afterAll(() => db?.close());

  it("a fill drops the account's cached positions; a config change drops the value", async () => {
    const config = busConfig(undefined);
    const bus = createEventBus(config);
    const relay = bus.createRelay({ pool: db.owner, pollIntervalMs: 50 });
    await relay.start();
    const { cache, close } = createTradingCache(config, db.pools);
    const listening = await cache.listenForChanges(bus, db.pools.services.analytics);
    try {
      expect(await cache.positions('acct-e')).toEqual([]);
      await executeOrder(db.pool, { accountId: 'acct-e', symbol: 'EVT', side: 'buy', quantity: '5' }, { brokerFillId: 'cache-1', quantity: '5', price: '10' });
      await waitFor(async () => (await cache.positions('acct-e')).length === 1);
      expect((await cache.positions('acct-e'))[0]).toMatchObject({ symbol: 'EVT', quantity: '5' });

      await db.owner.query(`INSERT INTO shared.system_config (key, value) VALUES ('cache.test', '"one"')`);
      expect(await cache.config('cache.test')).toBe('one');
      await db.owner.query(`UPDATE shared.system_config SET value = '"two"', version = version + 1 WHERE key = 'cache.test'`);
      await waitFor(async () => (await cache.config('cache.test')) === 'two');
      expect(cache.cache.stats.hits).toBeGreaterThan(0);
    } finally {
      await listening.close();
      close();
      await relay.stop();
      await bus.close();
    }
  });
});
