import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createOwnerPool } from '../src/db/owner-pool.ts';
import { createPools } from '../src/db/pools.ts';
import { runSetup } from '../src/db/setup.ts';
import { createEventBus } from '../src/events/event-bus.ts';
import { ENVELOPE_SQL } from '../src/events/event-envelope.ts';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { DatabaseLogSink } from '../src/services/logging/database-log-sink.ts';
import { configureLogging, serviceLogger } from '../src/services/logging/logger.ts';
import { chooseServer } from '../test/support/choose-server.ts';
import { dropDatabases } from '../test/support/drop-databases.ts';
import { benchConfig, psql, runProcess } from './bench-support.ts';

const PRODUCER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'latency-producer.ts');
const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results');

/**
 * `npm run bench -- events [--quick]`:
 * 1. relay throughput: N outbox rows (position events) drained by one relay into Redis Streams,
 *    against raw pipelined XADD of the same envelopes (same MAXLEN ~, 500 per pipeline) in the
 *    same run; goal ≥ 0.5×;
 * 2. commit-to-handled latency at 1,000 events/s: each event committed on its own (publishEvent)
 *    by a producer process of its own (bench/latency-producer.ts), a relay and a consumer group
 *    running here; latency from the producer's commit to the handler,
 *    p50/p99 (goal p99 < 50 ms) after a one-second warm-up, on Redis and on the PostgreSQL stream (no Redis).
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379).
 */
export async function runEventsBenchmark(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const rows = quick ? 5_000 : 50_000;
  const seconds = quick ? 3 : 10;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const server = await chooseServer();
  const stamp = Date.now().toString(36);
  const database = benchConfig(server.env, `${stamp}_events`);
  const prefix = `tdbbench${stamp}`;
  const results: Record<string, unknown> = { quick, rows, rate: 1000, seconds, server: server.kind, date: new Date().toISOString(), cpus: os.cpus().length };
  const redis = new Redis(redisUrl);
  try {
    await runSetup(database);
    const owner = createOwnerPool(database);
    const pools = createPools(database);
    try {
      const config = { redis: { url: redisUrl, prefix }, events: { retentionMs: 3_600_000, streamMaxLength: 1_000_000, maxAttempts: 5 } };
      results.relay = await relayThroughput(owner, redis, config, rows);
      // A stream of its own: the throughput phase left its 50,000 entries in the first one, which
      // a new group (reading from the start of the stream) would otherwise work through first.
      results.latencyRedis = await latency(owner, database, pools.services.analytics, { ...config, redis: { url: redisUrl, prefix: `${prefix}latency` } }, seconds);
      results.latencyPostgres = await latency(owner, database, pools.services.analytics, { ...config, redis: { url: undefined, prefix } }, seconds);
      results.logSink = await logSinkThroughput(pools.services.logging, database, quick ? 20_000 : 200_000);
    } finally {
      await pools.close();
      await owner.end();
    }
    writeFileSync(path.join(RESULTS_DIR, quick ? 'events-quick.json' : 'events.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await dropDatabases(database);
    await server.stop();
  }
}

type Config = Parameters<typeof createEventBus>[0];

/**
 * Log lines through a service logger (pino) into the database sink, from the first call to the
 * last row committed, against psql \copy of the same rows from a file.
 */
async function logSinkThroughput(logging: import('pg').Pool, database: DatabaseConfig, lines: number) {
  const sink = new DatabaseLogSink(logging, { capacity: lines });
  configureLogging({ level: 'info', sink });
  const logger = serviceLogger('bench');
  const start = performance.now();
  let callMs = 0;
  for (let index = 0; index < lines; index += 1000) {
    const callsStart = performance.now();
    for (let line = index; line < index + 1000; line += 1) logger.info({ orderId: line, symbol: `S${line % 100}`, quantity: '10', price: '101.25' }, `order ${line} placed`);
    callMs += performance.now() - callsStart;
    // A service does other work between log calls: let the sink's writes run meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await sink.close();
  const sinkSeconds = (performance.now() - start) / 1000;
  configureLogging(undefined);

  const directory = mkdtempSync(path.join(os.tmpdir(), 'tradedb-bench-logs-'));
  const file = path.join(directory, 'logs.copy');
  const columns = 'logged_at, service, level, message, context, correlation_id';
  try {
    await psql(database, database.trading.database, `\\copy (SELECT ${columns} FROM logging.system_logs WHERE service = 'bench') TO '${file}'`);
    await psql(database, database.trading.database, "DELETE FROM logging.system_logs WHERE service = 'bench'");
    const copyStart = performance.now();
    await psql(database, database.trading.database, `\\copy logging.system_logs (${columns}) FROM '${file}'`);
    const copySeconds = (performance.now() - copyStart) / 1000;
    const { written, dropped } = sink.stats();
    const result = {
      lines,
      written,
      dropped,
      sinkSeconds: round(sinkSeconds),
      sinkRowsPerSecond: Math.round(written / sinkSeconds),
      callMicroseconds: round((callMs * 1000) / lines),
      psqlCopySeconds: round(copySeconds),
      psqlCopyRowsPerSecond: Math.round(lines / copySeconds),
      ratio: round(lines / sinkSeconds / (lines / copySeconds)),
    };
    console.log(
      `log sink: ${result.sinkRowsPerSecond.toLocaleString('en-US')} rows/s (${written} lines logged and committed in ${result.sinkSeconds} s, ${result.callMicroseconds} µs per log call, ${dropped} dropped) vs psql \\copy ${result.psqlCopyRowsPerSecond.toLocaleString('en-US')} rows/s: ${result.ratio}×`,
    );
    return result;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function relayThroughput(owner: import('pg').Pool, redis: Redis, config: Config, rows: number) {
  await owner.query('TRUNCATE shared.event_outbox');
  await owner.query(
    `INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
     SELECT 'positions', 'position.changed', 'position', 'acct/S' || (i % 100), i / 100 + 1,
            jsonb_build_object('accountId', 'acct', 'symbol', 'S' || (i % 100), 'quantity', i::text, 'averageCost', '101.25', 'realizedPnl', '0', 'version', i / 100 + 1)
       FROM generate_series(1, $1) AS i`,
    [rows],
  );
  const envelopes = (await owner.query<{ json: string }>(
    `SELECT ${ENVELOPE_SQL} AS json FROM shared.event_outbox o ORDER BY id`,
  )).rows.map((row) => row.json);

  // Reference: raw pipelined XADD of the same envelopes.
  const rawStart = performance.now();
  for (let index = 0; index < envelopes.length; index += 500) {
    const pipeline = redis.pipeline();
    for (const json of envelopes.slice(index, index + 500)) pipeline.xadd(`${config.redis.prefix}:raw`, 'MAXLEN', '~', 1_000_000, '*', 'event', json);
    await pipeline.exec();
  }
  const rawSeconds = (performance.now() - rawStart) / 1000;

  const bus = createEventBus(config);
  // The relay as deployed: its default batch size and claims per transaction.
  const relay = bus.createRelay({ pool: owner });
  const start = performance.now();
  let sent = 0;
  while (sent < rows) {
    const batch = await relay.relayOnce();
    sent += batch.sent;
    if (!batch.progressed) break;
  }
  const relaySeconds = (performance.now() - start) / 1000;
  await bus.close();
  const result = {
    events: sent,
    relaySeconds: round(relaySeconds),
    relayPerSecond: Math.round(sent / relaySeconds),
    rawXaddSeconds: round(rawSeconds),
    rawXaddPerSecond: Math.round(rows / rawSeconds),
    ratio: round(rows / relaySeconds / (rows / rawSeconds)),
  };
  console.log(`relay: ${result.relayPerSecond.toLocaleString('en-US')} events/s (${sent} in ${result.relaySeconds} s) vs raw pipelined XADD ${result.rawXaddPerSecond.toLocaleString('en-US')}/s: ${result.ratio}× (goal ≥ 0.5×)`);
  return result;
}

async function latency(owner: import('pg').Pool, database: DatabaseConfig, handlerPool: import('pg').Pool, config: Config, seconds: number) {
  await owner.query('TRUNCATE shared.event_outbox, shared.processed_events');
  const bus = createEventBus(config);
  const handledAt = new Map<string, number>();
  const relay = bus.createRelay({ pool: owner, pollIntervalMs: 1000 });
  await relay.start();
  const consumer = await bus.subscribe({
    group: `bench.latency.${bus.mode}`,
    topics: ['positions'],
    pool: handlerPool,
    handle: async (event) => {
      handledAt.set(event.eventId, performance.timeOrigin + performance.now());
    },
  });
  // A failed producer must not leave the relay and consumer running (they would recreate the
  // streams the benchmark deletes at the end).
  // The producer runs in a process of its own, as services do; the first second warms up
  // (connections opening, statements planned) and is not measured.
  const warmup = 1000;
  const total = seconds * 1000 + warmup;
  let latencies: number[];
  let achievedRate: number;
  try {
    const output = await runProcess(process.execPath, ['--import', import.meta.resolve('tsx'), PRODUCER, String(total), '1000'], { ...process.env, TRADEDB_BENCH_DATABASE: JSON.stringify(database) }, false);
    const lines = output.trim().split('\n').map((line) => JSON.parse(line) as { eventId?: string; committedAt?: number; achievedRate?: number });
    achievedRate = lines.at(-1)!.achievedRate!;
    const committed = lines.slice(warmup, -1) as Array<{ eventId: string; committedAt: number }>;
    const deadline = Date.now() + 60_000;
    while (committed.some((event) => !handledAt.has(event.eventId)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    // Handled before the producer saw its commit (the commit's acknowledgement was still on its way) counts as 0.
    latencies = committed.filter((event) => handledAt.has(event.eventId)).map((event) => Math.max(0, handledAt.get(event.eventId)! - event.committedAt));
  } finally {
    await consumer.stop();
    await relay.stop();
    await bus.close();
  }
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN);
  // Where the time goes, from the rows' own clocks (transaction starts): commit to relayed, relayed to handled.
  const { rows: stages } = await owner.query<{ relay: number[]; consumer: number[] }>(
    `SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM o.published_at - o.occurred_at) * 1000) AS relay,
            percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - o.published_at) * 1000) AS consumer
       FROM shared.event_outbox o JOIN shared.processed_events p ON p.event_id = o.event_id AND p.consumer_group = $1`,
    [`bench.latency.${bus.mode}`],
  );
  const stage = { relayP50Ms: round(stages[0]!.relay[0]!), relayP99Ms: round(stages[0]!.relay[1]!), consumerP50Ms: round(stages[0]!.consumer[0]!), consumerP99Ms: round(stages[0]!.consumer[1]!) };
  const result = { mode: bus.mode, events: total - warmup, warmupEvents: warmup, handled: latencies.length, achievedRate: Math.round(achievedRate), p50Ms: pick(0.5), p99Ms: pick(0.99), maxMs: round(latencies.at(-1) ?? NaN), stages: stage };
  console.log(`latency (${bus.mode}): ${result.handled}/${result.events} measured events handled (after ${warmup} warm-up) at ${result.achievedRate} events/s; commit→handled p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms (goal p99 < 50 ms); of which commit→relayed p50 ${stage.relayP50Ms} p99 ${stage.relayP99Ms} ms, relayed→handled p50 ${stage.consumerP50Ms} p99 ${stage.consumerP99Ms} ms`);
  return result;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
