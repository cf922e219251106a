import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEventBus, type EventBus, type EventConsumer } from '../../src/events/event-bus.ts';
import type { OutboxRelay } from '../../src/events/outbox-relay.ts';
import { failingOn } from '../support/recording-handler.ts';
import { busConfig, effectCounts, openEventDatabase, publishPositionEvents, recordingHandler, type EventDatabase } from '../support/event-harness.ts';
import { redisUnavailableReason, startPrivateRedis, type PrivateRedis } from '../support/redis-server.ts';
import { waitFor, waitForSleepingBackend } from '../support/wait-for.ts';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../support/event-child.ts');
const unavailable = redisUnavailableReason();
if (unavailable) console.warn(`skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('event bus on Redis Streams', () => {
  let db: EventDatabase;
  let redis: PrivateRedis;
  let config: ReturnType<typeof busConfig>;
  let bus: EventBus;
  const running: Array<OutboxRelay | EventConsumer> = [];

  beforeAll(async () => {
    db = await openEventDatabase('redisbus');
    redis = await startPrivateRedis();
    config = busConfig(redis.url);
    bus = createEventBus(config);
  });
  afterAll(async () => {
    await Promise.all(running.map((item) => item.stop()));
    await bus?.close();
    await redis?.stop();
    await db?.close();
  });

  async function relay(): Promise<OutboxRelay> {
    const started = bus.createRelay({ pool: db.owner, batchSize: 50, pollIntervalMs: 100 });
    await started.start();
    running.push(started);
    return started;
  }
  async function consumer(group: string, name: string): Promise<EventConsumer> {
    const started = await bus.subscribe({ group, topics: ['positions'], pool: db.pools.services.analytics, handle: recordingHandler(name), consumerName: name, reclaimIdleMs: 300 });
    running.push(started);
    return started;
  }
  async function stopAll(): Promise<void> {
    await Promise.all(running.splice(0).map((item) => item.stop()));
  }
  // Each test starts from nothing: no relay or consumer running, empty outbox, marks and streams.
  beforeEach(async () => {
    await stopAll();
    await db.admin.query('TRUNCATE analytics.test_effects, shared.event_outbox, shared.processed_events, shared.event_consumer_failures');
    const flusher = new Redis(redis.url);
    await flusher.flushall();
    flusher.disconnect();
  });
  function childEnv(): Record<string, string> {
    return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...db.db.env, REDIS_URL: redis.url, TRADEDB_REDIS_PREFIX: config.redis.prefix };
  }

  it('3 relays and 3 consumers: every event handled once, and each aggregate in order in its stream', async () => {
    await Promise.all([relay(), relay(), relay()]);
    const consumers = await Promise.all(['a', 'b', 'c'].map((name) => consumer('test.many', name)));
    await Promise.all([0, 1, 2].map((index) => publishPositionEvents(db.pools.services.logging, 200, 10, `M${index}-`)));
    await waitFor(async () => (await effectCounts(db.admin)).events >= 600, { timeoutMs: 60_000 });
    expect(await effectCounts(db.admin)).toEqual({ rows: 600, events: 600 });
    // The work was shared.
    expect(consumers.filter((item) => item.counts.handled > 0).length).toBeGreaterThan(1);

    const reader = new Redis(redis.url);
    try {
      const entries = await reader.xrange(`${config.redis.prefix}:stream:positions`, '-', '+');
      const seen = new Map<string, number>();
      for (const [, fields] of entries) {
        const event = JSON.parse(fields[1]!);
        const previous = seen.get(event.aggregate.id) ?? 0;
        expect(event.aggregate.version).toBeGreaterThan(previous);
        seen.set(event.aggregate.id, event.aggregate.version);
      }
      expect(seen.size).toBe(30);
    } finally {
      reader.disconnect();
    }
    const lag = await bus.lag(db.admin);
    expect(lag.find((row) => row.group === 'test.many')).toMatchObject({ topic: 'positions', pending: 0, lag: 0 });
  });

  it('Redis killed while events are produced, then restarted empty: every event handled once', async () => {
    await relay();
    await consumer('test.outage', 'o1');
    const before = await publishPositionEvents(db.pools.services.logging, 50, 5, 'B');
    await waitFor(async () => (await effectCounts(db.admin)).events >= 50);
    await redis.kill();
    const during = await publishPositionEvents(db.pools.services.logging, 50, 5, 'D');
    const pending = await db.admin.query('SELECT count(*)::int AS n FROM shared.event_outbox WHERE published_at IS NULL');
    expect(pending.rows[0].n).toBeGreaterThanOrEqual(50);
    await redis.start();
    await waitFor(async () => (await effectCounts(db.admin)).events >= 100, { timeoutMs: 60_000 });
    // The relay refilled the new Redis from the retained outbox; the 50 already handled were recognised.
    await waitFor(async () => (await db.admin.query('SELECT count(*)::int AS n FROM shared.event_outbox WHERE published_at IS NULL')).rows[0].n === 0);
    expect(await effectCounts(db.admin)).toEqual({ rows: 100, events: 100 });
    const handled = (await db.admin.query('SELECT event_id FROM analytics.test_effects')).rows.map((row) => row.event_id);
    expect(new Set(handled)).toEqual(new Set([...before, ...during]));
  });

  it('a relay killed after publishing and before marking sent: the events go again and are handled once', async () => {
    const ids = await publishPositionEvents(db.pools.services.logging, 40, 4, 'K');
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'relay-crash'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    const exit = await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGTERM'), 30_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve(signal ?? code);
      });
    });
    expect(exit).toBe('SIGKILL');
    expect(output).toContain('published');
    const unmarked = await db.admin.query('SELECT count(*)::int AS n FROM shared.event_outbox WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL', [ids]);
    expect(unmarked.rows[0].n).toBe(40);

    const single = await consumer('test.crash', 'k1');
    await relay();
    await waitFor(async () => (await effectCounts(db.admin)).events >= 40);
    await waitFor(async () => single.counts.duplicate > 0);
    expect(await effectCounts(db.admin)).toEqual({ rows: 40, events: 40 });
  });

  it('a consumer killed in the middle of its handler: another consumer of the group handles the event, once', async () => {
    await relay();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'consumer-hang', 'test.hang'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? code)));
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    await waitFor(async () => (await bus.lag(db.admin)).some((row) => row.group === 'test.hang'));
    const [id] = await publishPositionEvents(db.pools.services.logging, 1, 1, 'H');
    await waitFor(async () => output.includes('handling'));
    const backend = await waitForSleepingBackend(db.admin);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await db.admin.query('SELECT pg_terminate_backend($1)', [backend]);

    const survivor = await consumer('test.hang', 'survivor');
    await waitFor(async () => (await effectCounts(db.admin)).events >= 1);
    const { rows } = await db.admin.query('SELECT event_id, consumer FROM analytics.test_effects');
    expect(rows).toEqual([{ event_id: id, consumer: 'survivor' }]);
    expect(survivor.counts.handled).toBe(1);
  });

  it("the relay's PostgreSQL connections dropped under it: it reconnects and nothing is lost or doubled", async () => {
    const dropped = await relay();
    await consumer('test.drop', 'd1');
    for (let round = 0; round < 4; round += 1) {
      await publishPositionEvents(db.pools.services.logging, 25, 5, `R${round}-`);
      await db.admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tradedb:owner'");
    }
    await waitFor(async () => (await effectCounts(db.admin)).events >= 100, { timeoutMs: 60_000 });
    expect(await effectCounts(db.admin)).toEqual({ rows: 100, events: 100 });
    // Counted once a claim commits: a claim cut off after Redis had its events (which consumers may
    // already have handled) is counted when they go again.
    await waitFor(() => Promise.resolve(dropped.stats.published >= 100), { timeoutMs: 30_000 });
    expect(dropped.stats.published).toBeGreaterThanOrEqual(100);
  });

  it('a poison event goes to the dead-letter stream after the configured attempts; the consumer goes on', async () => {
    await relay();
    const [poison] = await publishPositionEvents(db.pools.services.logging, 1, 1, 'X');
    const poisoned = await bus.subscribe({
      group: 'test.poison',
      topics: ['positions'],
      pool: db.pools.services.analytics,
      reclaimIdleMs: 100,
      handle: failingOn(poison, recordingHandler('x')),
    });
    running.push(poisoned);
    const after = await publishPositionEvents(db.pools.services.logging, 3, 1, 'Y');
    const reader = new Redis(redis.url);
    try {
      const deadLetters = `${config.redis.prefix}:stream:dead-letter`;
      await waitFor(async () => (await reader.xlen(deadLetters)) > 0, { timeoutMs: 30_000 });
      const entries = (await reader.xrange(deadLetters, '-', '+')) as Array<[string, string[]]>;
      expect(JSON.parse(entries[0]![1][1]!).payload).toMatchObject({ consumerGroup: 'test.poison', eventId: poison, attempts: 3 });
    } finally {
      reader.disconnect();
    }
    await waitFor(async () => (await effectCounts(db.admin)).events >= 3);
    const handled = (await db.admin.query('SELECT event_id FROM analytics.test_effects')).rows.map((row) => row.event_id);
    expect(new Set(handled)).toEqual(new Set(after));
    expect(poisoned.counts.deadLettered).toBe(1);
  });
});
