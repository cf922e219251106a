import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventBus } from '../../../src/events/event-bus.ts';
import { recordFill } from '../../../src/services/execution/fill-service.ts';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { placeOrderFromSignal } from '../../../src/services/execution/signal-orders.ts';
import { DatabaseLogSink } from '../../../src/services/logging/database-log-sink.ts';
import { queryLogs } from '../../../src/services/logging/log-query.ts';
import { configureLogging, serviceLogger } from '../../../src/services/logging/logger.ts';
import { timedOperation } from '../../../src/services/logging/performance-log.ts';
import { StrategyService } from '../../../src/services/strategy-engine/strategy-service.ts';
import { withCorrelation } from '../../../src/shared/correlation.ts';
import { busConfig, openEventDatabase, type EventDatabase } from '../../support/event-harness.ts';
import { waitFor } from '../../support/wait-for.ts';

let db: EventDatabase;
let logging: pg.Pool;
const consoleLines: string[] = [];
const captureConsole = { write: (line: string) => consoleLines.push(line) };

beforeAll(async () => {
  db = await openEventDatabase('logging');
  logging = db.pools.services.logging;
});
afterEach(() => configureLogging({ level: 'silent' }));
afterAll(() => db?.close());

/** A sink on the logging service's pool, installed as this process's logging (debug and up). */
function installSink(options: ConstructorParameters<typeof DatabaseLogSink>[1] = {}, pool: pg.Pool = logging): DatabaseLogSink {
  const sink = new DatabaseLogSink(pool, { flushIntervalMs: 20, ...options });
  configureLogging({ level: 'debug', console: captureConsole, sink });
  return sink;
}

const logCount = async (where: string) => Number((await db.admin.query(`SELECT count(*) AS n FROM logging.system_logs WHERE ${where}`)).rows[0].n);

describe('centralized logging', () => {
  it("one correlation id shows a signal's whole path: signal, order, fill, their events, a consumer's work", async () => {
    const sink = installSink();
    const strategies = new StrategyService(db.pools.services.strategy_engine);
    const strategy = await strategies.create({ name: 'log path', kind: 'manual' });
    await strategies.update(strategy.id, 1, { status: 'active' });
    const bus = createEventBus(busConfig(undefined));
    const relay = bus.createRelay({ pool: db.owner, pollIntervalMs: 50 });
    await relay.start();
    const consumer = await bus.subscribe({
      group: 'test.log-path',
      topics: ['trades'],
      pool: db.pools.services.analytics,
      pollIntervalMs: 50,
      handle: async (event) => serviceLogger('analytics').info({ eventId: event.eventId }, `saw ${event.type}`),
    });
    try {
      const orderId = await withCorrelation({ correlationId: 'corr-signal-path' }, async () => {
        const { signal } = await strategies.recordSignal(strategy.id, { symbol: 'EVT', signalType: 'buy', generatedAt: new Date('2025-03-03T15:00:00Z'), quantity: '7' });
        const { order } = await placeOrderFromSignal(db.pool, signal.id, { accountId: 'acct-e' });
        await new OrderService(db.pool).submit('acct-e', order.id);
        await recordFill(db.pool, { accountId: 'acct-e', orderId: order.id, brokerFillId: 'log-fill-1', quantity: '7', price: '21.5' });
        return order.id;
      });
      // The consumer ran in another async context: the id reached it through the event.
      await waitFor(async () => {
        await sink.flush();
        return (await logCount("service = 'analytics' AND correlation_id = 'corr-signal-path'")) === 1;
      });
      const lines = await queryLogs(logging, { correlationId: 'corr-signal-path' });
      const path = lines.map((line) => `${line.kind} ${line.service}: ${line.message.replace(/\d+/g, 'N')}`);
      expect(path).toEqual(
        expect.arrayContaining([
          'log strategy_engine: signal N recorded: buy EVT',
          'event events: signal.generated strategy/N',
          'log execution: order N placed',
          'event events: order.placed order/acct-e/N',
          'event events: trade.executed trade/acct-e/N',
          'log execution: fill of order N recorded',
          'log analytics: saw trade.executed',
        ]),
      );
      expect(lines.map((line) => line.at)).toEqual(lines.map((line) => line.at).sort());
      const placed = lines.find((line) => line.message === `order ${orderId} placed`)!;
      expect(placed.context).toMatchObject({ accountId: 'acct-e', orderId, symbol: 'EVT', quantity: '7' });
      // The consumer's line names the event that caused it.
      const trade = lines.find((line) => line.message.startsWith('trade.executed'))!;
      const seen = lines.find((line) => line.message === 'saw trade.executed')!;
      expect(seen.context).toMatchObject({ causationId: (trade.context as { eventId: string }).eventId });
      // The same lines went to the console as JSON, with the id.
      const consoleRecord = consoleLines.map((line) => JSON.parse(line)).find((record) => record.msg === `order ${orderId} placed`);
      expect(consoleRecord).toMatchObject({ service: 'execution', level: 30, correlationId: 'corr-signal-path' });
    } finally {
      await consumer.stop();
      await relay.stop();
      await bus.close();
      await sink.close();
    }
  });

  it('never waits for a database that is away: a bounded queue, drops counted, and reported once it is back', async () => {
    let away = true;
    const flaky = { connect: () => (away ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) : logging.connect()) } as unknown as pg.Pool;
    const errors: string[] = [];
    const sink = installSink({ capacity: 10, onError: (error) => errors.push(error.message) }, flaky);
    const logger = serviceLogger('test-drops');
    for (let index = 0; index < 100; index += 1) logger.info({ index }, `line ${index}`);
    expect(sink.stats()).toMatchObject({ queued: 10, dropped: 90, written: 0 });
    await sink.flush();
    expect(sink.stats()).toMatchObject({ queued: 10, written: 0 });
    expect(sink.stats().failedWrites).toBeGreaterThan(0);
    expect(errors[0]).toContain('ECONNREFUSED');

    away = false;
    await sink.close();
    expect(sink.stats()).toMatchObject({ queued: 0, dropped: 90, written: 10 });
    const kept = await db.admin.query("SELECT message FROM logging.system_logs WHERE service = 'test-drops' ORDER BY id");
    expect(kept.rows.map((row) => row.message)).toEqual(Array.from({ length: 10 }, (_, index) => `line ${index}`));
    const report = await db.admin.query("SELECT level, message, context FROM logging.system_logs WHERE service = 'logging' AND context ? 'dropped'");
    expect(report.rows).toEqual([{ level: 'warn', message: expect.stringContaining('dropped 90 lines'), context: { dropped: 90, capacity: 10 } }]);
  });

  it('close writes everything queued, however many batches it takes', async () => {
    const sink = installSink({ batchSize: 10, flushIntervalMs: 60_000 });
    const logger = serviceLogger('test-batches');
    for (let index = 0; index < 35; index += 1) logger.info(`line ${index}`);
    await sink.close();
    expect(sink.stats()).toMatchObject({ written: 35, queued: 0, dropped: 0 });
    expect(await logCount("service = 'test-batches'")).toBe(35);
  });

  it('an entry the table refuses does not hold back the rest of its batch, and leaves a line saying so', async () => {
    const sink = installSink({ flushIntervalMs: 60_000 });
    const at = new Date();
    sink.log({ loggedAt: at, service: 'test-refused', level: 'info', message: 'before' });
    sink.log({ loggedAt: at, service: ' ', level: 'info', message: 'blank service', correlationId: 'corr-refused' });
    sink.log({ loggedAt: at, service: 'test-refused', level: 'info', message: 'after\ttab\\backslash\u0000nul' });
    await sink.close();
    const { rows } = await db.admin.query("SELECT service, level, message FROM logging.system_logs WHERE service = 'test-refused' OR correlation_id = 'corr-refused' ORDER BY id");
    expect(rows).toEqual([
      { service: 'test-refused', level: 'info', message: 'before' },
      { service: 'logging', level: 'error', message: expect.stringMatching(/^a log entry of " " was refused by the database: .*system_logs_service_check/) },
      { service: 'test-refused', level: 'info', message: 'after\ttab\\backslashnul' },
    ]);
  });

  it('times operations into performance_logs, with rows, the correlation, and failures', async () => {
    const sink = installSink();
    await withCorrelation({ correlationId: 'corr-timed' }, async () => {
      await timedOperation('test-timing', 'load.things', async () => [1, 2, 3], (result) => ({ rows: result.length }));
      await expect(timedOperation('test-timing', 'load.broken', async () => { throw new Error('disk on fire'); })).rejects.toThrow('disk on fire');
    });
    await sink.close();
    const { rows } = await db.admin.query("SELECT operation, rows::int, details, correlation_id, duration_ms >= 0 AS timed FROM logging.performance_logs WHERE service = 'test-timing' ORDER BY id");
    expect(rows).toEqual([
      { operation: 'load.things', rows: 3, details: {}, correlation_id: 'corr-timed', timed: true },
      { operation: 'load.broken', rows: null, details: { error: 'disk on fire' }, correlation_id: 'corr-timed', timed: true },
    ]);
    const timings = await queryLogs(logging, { correlationId: 'corr-timed' });
    expect(timings.map((line) => line.kind)).toEqual(['timing', 'timing']);
  });

  it('filters by level and above, service and time; rows land in the partition of their day', async () => {
    const sink = installSink();
    const logger = serviceLogger('test-filter');
    logger.debug('quiet');
    logger.info('normal');
    logger.warn('careful');
    logger.error({ err: new Error('boom') }, 'broken');
    await sink.close();
    const messages = async (filter: Parameters<typeof queryLogs>[1]) => (await queryLogs(logging, { service: 'test-filter', ...filter })).map((line) => line.message);
    expect(await messages({})).toEqual(['quiet', 'normal', 'careful', 'broken']);
    expect(await messages({ minLevel: 'warn' })).toEqual(['careful', 'broken']);
    expect(await messages({ limit: 2 })).toEqual(['careful', 'broken']);
    expect(await messages({ since: new Date(Date.now() + 60_000) })).toEqual([]);
    const [broken] = await queryLogs(logging, { service: 'test-filter', minLevel: 'error' });
    expect(broken!.context).toMatchObject({ err: { type: 'Error', message: 'boom' } });
    const misplaced = await db.admin.query(
      `SELECT count(*)::int AS n FROM logging.system_logs l JOIN pg_class c ON c.oid = l.tableoid
        WHERE l.service = 'test-filter' AND c.relname <> 'system_logs_p' || to_char(l.logged_at AT TIME ZONE 'UTC', 'YYYYMMDD')`,
    );
    expect(misplaced.rows[0].n).toBe(0);
  });
});
