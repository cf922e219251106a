import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventBus, type EventConsumer } from '../../src/events/event-bus.ts';
import type { OutboxRelay } from '../../src/events/outbox-relay.ts';
import { failingOn } from '../support/recording-handler.ts';
import { busConfig, effectCounts, openEventDatabase, publishPositionEvents, recordingHandler, type EventDatabase } from '../support/event-harness.ts';
import { waitFor } from '../support/wait-for.ts';

// Without Redis: the same API through the outbox and LISTEN/NOTIFY alone.
let db: EventDatabase;
const bus = createEventBus(busConfig(undefined));

beforeAll(async () => {
  db = await openEventDatabase('pgbus');
});
afterAll(async () => {
  await bus.close();
  await db?.close();
});

it('runs in PostgreSQL mode when no Redis is configured', () => {
  expect(bus.mode).toBe('postgres');
});

it('3 relays and 3 consumers deliver every event once, each aggregate in order', async () => {
  const relays: OutboxRelay[] = [];
  const consumers: EventConsumer[] = [];
  try {
    for (let index = 0; index < 3; index += 1) {
      const relay = bus.createRelay({ pool: db.owner, batchSize: 50, pollIntervalMs: 200 });
      await relay.start();
      relays.push(relay);
      consumers.push(
        await bus.subscribe({ group: 'test.effects', topics: ['positions'], pool: db.pools.services.analytics, handle: recordingHandler(`c${index}`), pollIntervalMs: 100 }),
      );
    }
    const producers = [0, 1, 2].map((index) => publishPositionEvents(db.pools.services.logging, 100, 5, `P${index}-`));
    await Promise.all(producers);
    await waitFor(async () => (await effectCounts(db.admin)).rows >= 300, { timeoutMs: 60_000 });
    expect(await effectCounts(db.admin)).toEqual({ rows: 300, events: 300 });
    expect(relays.reduce((sum, relay) => sum + relay.stats.published, 0)).toBe(300);

    // In handling order, each position's versions never go back (one consumer reads a group at a time).
    const { rows } = await db.admin.query<{ aggregate_id: string; versions: string[] }>(
      'SELECT aggregate_id, array_agg(version ORDER BY handled_at) AS versions FROM analytics.test_effects GROUP BY 1',
    );
    for (const row of rows) {
      const versions = row.versions.map(Number);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    }
    expect(await bus.lag(db.admin)).toEqual([{ group: 'test.effects', topic: 'positions', pending: null, lag: 0 }]);
  } finally {
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    await Promise.all(relays.map((relay) => relay.stop()));
  }
});

it('a poison event is dead-lettered after the configured attempts and the consumer goes on', async () => {
  await db.admin.query('TRUNCATE analytics.test_effects');
  const relay = bus.createRelay({ pool: db.owner, pollIntervalMs: 100 });
  await relay.start();
  const [poison] = await publishPositionEvents(db.pools.services.logging, 1, 1, 'POISON');
  const consumer = await bus.subscribe({
    group: 'test.poison',
    topics: ['positions'],
    pool: db.pools.services.analytics,
    pollIntervalMs: 50,
    retryDelayMs: 20,
    handle: failingOn(poison, recordingHandler('p')),
  });
  try {
    const after = await publishPositionEvents(db.pools.services.logging, 3, 1, 'AFTER');
    await waitFor(async () => (await db.admin.query("SELECT 1 FROM shared.event_outbox WHERE event_type = 'consumer.dead_lettered'")).rows.length > 0);
    const handledIds = async () => (await db.admin.query<{ event_id: string }>("SELECT event_id FROM analytics.test_effects WHERE consumer = 'p'")).rows.map((row) => row.event_id);
    await waitFor(async () => (await handledIds()).filter((id) => after.includes(id)).length === 3);
    const letter = await db.admin.query("SELECT payload FROM shared.event_outbox WHERE event_type = 'consumer.dead_lettered'");
    expect(letter.rows[0].payload).toMatchObject({ consumerGroup: 'test.poison', eventId: poison, attempts: 3, severity: 'error' });
    expect(letter.rows[0].payload.error).toContain('cannot handle this one');
    const handled = await handledIds();
    expect(handled).not.toContain(poison);
    expect(handled.filter((id) => after.includes(id))).toEqual(after);
    expect(consumer.counts.deadLettered).toBe(1);
  } finally {
    await consumer.stop();
    await relay.stop();
  }
});

it('a relay under a stream of small commits gathers them into few claims, and the first event after a quiet spell goes at once', async () => {
  const relay = bus.createRelay({ pool: db.owner, gatherMs: 400, pollIntervalMs: 5_000 });
  await relay.start();
  try {
    // Whatever earlier tests left pending goes first; then a quiet spell.
    await waitFor(async () => (await db.admin.query('SELECT 1 FROM shared.event_outbox WHERE published_at IS NULL')).rows.length === 0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = { ...relay.stats };
    const started = performance.now();
    await publishPositionEvents(db.pools.services.logging, 1, 1, 'FIRST');
    // Woken by its notification, not by the 5 s poll.
    await waitFor(() => Promise.resolve(relay.stats.published === before.published + 1), { timeoutMs: 4_000 });
    const firstAfter = performance.now() - started;
    // Ten commits 20 ms apart, during the gather window: one or two more claims, not ten.
    for (let index = 0; index < 10; index += 1) {
      await publishPositionEvents(db.pools.services.logging, 1, 1, `GATHERED${index}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(() => Promise.resolve(relay.stats.published === before.published + 11), { timeoutMs: 10_000 });
    expect(firstAfter).toBeLessThan(4_000);
    expect(relay.stats.batches - before.batches).toBeLessThanOrEqual(3);
  } finally {
    await relay.stop();
  }
});

describe('writers notify only a sleeping relay (a NOTIFY serializes their commits)', () => {
  const notifyWrites = async (): Promise<boolean> => (await db.admin.query<{ notify_writes: boolean }>('SELECT notify_writes FROM shared.outbox_relay_watch')).rows[0]!.notify_writes;

  it('a busy relay is not notified of each commit', async () => {
    const relay = bus.createRelay({ pool: db.owner, gatherMs: 20, awakeMs: 500, pollIntervalMs: 30_000 });
    await relay.start();
    const listener = await db.owner.connect();
    let notifications = 0;
    listener.on('notification', () => (notifications += 1));
    await listener.query('LISTEN tradedb_outbox');
    try {
      const before = relay.stats.published;
      for (let index = 0; index < 20; index += 1) {
        await publishPositionEvents(db.pools.services.logging, 1, 1, `BUSY${index}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await waitFor(() => Promise.resolve(relay.stats.published === before + 20), { timeoutMs: 10_000 });
      // The first commit wakes it; while it claims on its own, commits stay silent.
      expect(notifications).toBeLessThanOrEqual(2);
      // Idle for awakeMs, it asks for notifications again.
      await waitFor(notifyWrites, { timeoutMs: 5_000 });
    } finally {
      await listener.query('UNLISTEN *');
      listener.release();
      await relay.stop();
    }
  });

  it('a relay going to sleep waits for a writer that saw it awake, and relays its event without a notification', async () => {
    const relay = bus.createRelay({ pool: db.owner, gatherMs: 20, awakeMs: 200, pollIntervalMs: 30_000 });
    await relay.start();
    const writer = await db.pools.services.logging.connect();
    try {
      const before = relay.stats.published;
      await publishPositionEvents(db.pools.services.logging, 1, 1, 'WAKE');
      await waitFor(async () => relay.stats.published === before + 1 && !(await notifyWrites()));
      // Awake: this writer's event asks for no notification, and it stays uncommitted while the
      // relay, idle, asks for notifications again and tries to go to sleep.
      await writer.query('BEGIN');
      const [eventId] = await publishPositionEvents(writer, 1, 1, 'UNSEEN');
      await waitFor(notifyWrites, { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(relay.stats.published).toBe(before + 1);
      await writer.query('COMMIT');
      // Still awake (the writer held it up), the relay claims it at once: the poll is 30 s away.
      await waitFor(async () => (await db.admin.query('SELECT 1 FROM shared.event_outbox WHERE event_id = $1 AND published_at IS NOT NULL', [eventId])).rows.length === 1, { timeoutMs: 3_000 });
      expect(relay.stats.published).toBe(before + 2);
    } finally {
      await writer.query('ROLLBACK').catch(() => undefined);
      writer.release();
      await relay.stop();
    }
  });
});
