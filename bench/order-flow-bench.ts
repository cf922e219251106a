import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { createOwnerPool } from '../src/db/owner-pool.ts';
import { createPools } from '../src/db/pools.ts';
import { connectAdmin, runSetup } from '../src/db/setup.ts';
import { createEventBus } from '../src/events/event-bus.ts';
import { sealAuditLog } from '../src/ops/audit-trail.ts';
import { recordFills } from '../src/services/execution/fill-batch.ts';
import { executeOrder } from '../src/services/execution/order-execution.ts';
import { OrderService } from '../src/services/execution/order-service.ts';
import { chooseServer } from '../test/support/choose-server.ts';
import { dropDatabases } from '../test/support/drop-databases.ts';
import { clientToolEnv } from '../test/support/schema-dump.ts';
import { asAdmin, benchConfig, withCliProcess } from './bench-support.ts';

const run = promisify(execFile);
const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results');
const CLIENT_COUNTS = [1, 4, 8];

/**
 * `npm run bench -- order-flow [--quick]`: the full order → risk check → submit → fill → trade →
 * position → order events transaction (executeOrder), per second, at 1, 4 and 8 clients — each
 * client trading its own account under three risk limits — against pgbench's built-in TPC-B-like
 * script on the same server, in the same run, at the same client counts. The order flow runs as
 * deployed (outbox and audit triggers on, a relay publishing to Redis, the audit sealer sealing),
 * against the same without the audit trail (eight interleaved windows, ABBA BAAB, so drift of the machine
 * cancels), and without the outbox.
 */
export async function runOrderFlowBenchmark(flags: string[]): Promise<void> {
  const seconds = flags.includes('--quick') ? 3 : 10;
  const server = await chooseServer();
  const stamp = Date.now().toString(36);
  const config = benchConfig(server.env, `${stamp}_flow`);
  const pgbenchDb = `tdbb_${stamp}_pgbench`;
  const results: Record<string, unknown> = { seconds, server: server.kind, date: new Date().toISOString(), cpus: os.cpus().length, clients: {} };
  try {
    await runSetup(config);
    await prepareAccounts(config, Math.max(...CLIENT_COUNTS));
    await asAdmin(config, (admin) => admin.query("INSERT INTO shared.accounts (account_id, name) VALUES ('bench-batch', 'bench')"));
    const admin = await connectAdmin(config, config.server.maintenanceDatabase);
    await admin.query(`CREATE DATABASE "${pgbenchDb}"`);
    await admin.end();
    // Scale 10: ten branches, so eight clients do not all queue on one branch row.
    await run('pgbench', ['-i', '-q', '-s', '10', pgbenchDb], { env: clientToolEnv(config) });

    // pgbench -i leaves its tables vacuumed and analyzed; ours get the same, after a history to
    // analyze: planned on empty tables, the foreign-key checks into orders pick an index that only
    // narrows by account and then scan every order of it (autovacuum fixes that within a minute
    // of a real start, which a ten-second run never sees).
    await orderFlow(config, Math.max(...CLIENT_COUNTS), 2);
    await asAdmin(config, (admin) => admin.query('VACUUM ANALYZE execution.orders, execution.order_events, execution.trades, execution.positions'));
    for (const clients of CLIENT_COUNTS) {
      const pgbenchTps = await pgbench(config, pgbenchDb, clients, seconds);
      // As deployed: the outbox triggers write each order's events and a relay publishes them;
      // the audit triggers record each change and the sealer chains them. Against the same with
      // the audit triggers off, in eight interleaved windows (A B B A B A A B).
      // The sealer runs throughout, as deployed (with nothing to seal while the triggers are off).
      const { audited: ours, unaudited } = await withRelay(server.env, config, () =>
        withCliProcess(['audit', 'sealer'], server.env, config, 'audit sealer running', () => auditOnAndOff(config, clients, seconds)),
      );
      const auditCost = 1 - ours / unaudited;
      // The same without events (triggers disabled, no relay) and without the audit trail.
      await setOutboxTriggers(config, false);
      await setAuditTriggers(config, false);
      const withoutOutbox = await orderFlow(config, clients, seconds).finally(() => Promise.all([setOutboxTriggers(config, true), setAuditTriggers(config, true)]));
      const ratio = ours / pgbenchTps;
      (results.clients as Record<string, unknown>)[clients] = {
        pgbenchTps: Math.round(pgbenchTps),
        orderFlowTps: Math.round(ours),
        ratio: Math.round(ratio * 100) / 100,
        orderFlowWithoutAuditTps: Math.round(unaudited),
        auditCost: Math.round(auditCost * 100) / 100,
        orderFlowWithoutOutboxTps: Math.round(withoutOutbox),
        outboxCost: Math.round((1 - ours / withoutOutbox) * 100) / 100,
      };
      console.log(`${String(clients).padStart(2)} clients: pgbench tpcb-like ${pgbenchTps.toFixed(0).padStart(6)} tx/s   order flow ${ours.toFixed(0).padStart(6)} tx/s   ratio ${ratio.toFixed(2)} ${ratio >= 0.8 ? 'PASS' : 'MISS'} (target >= 0.8)`);
      console.log(`            without the audit trail ${unaudited.toFixed(0)} tx/s: audit costs ${(auditCost * 100).toFixed(0)} % ${auditCost <= 0.15 ? 'PASS' : 'MISS'} (limit 15 %)   without outbox ${withoutOutbox.toFixed(0)} tx/s (outbox and audit cost ${((1 - ours / withoutOutbox) * 100).toFixed(0)} %)`);
    }
    // At 4 and 8 clients the flow's backends mostly wait on WAL flushes (WALWrite, WALSync in
    // pg_stat_activity): what a transaction writes to the WAL is what bounds it there.
    const wal = await walPerOrder(config);
    results.walBytesPerOrder = wal;
    console.log(
      `WAL per order: ${wal.deployed} bytes as deployed — the flow's transaction ${wal.flow}, the relay's claims of its events ${wal.relay}, the sealer's seals of its audit rows ${wal.sealer}`,
    );
    results.batchFillsPerSecond = {};
    for (const size of [1000, 5000]) {
      const batch = await batchFills(config, flags.includes('--quick') ? 10_000 : 100_000, size);
      (results.batchFillsPerSecond as Record<string, number>)[size] = Math.round(batch);
      console.log(`batch path (recordFills, ${size.toLocaleString('en-US')} fills a transaction): ${batch.toFixed(0)} fills/s ${batch >= 20_000 ? 'PASS' : 'MISS'} (target >= 20,000)`);
    }
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, flags.includes('--quick') ? 'order-flow-quick.json' : 'order-flow.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`figures written to ${path.relative(process.cwd(), file)}`);
  } finally {
    await dropDatabases(config);
    const admin = await connectAdmin(config, config.server.maintenanceDatabase);
    await admin.query(`DROP DATABASE IF EXISTS "${pgbenchDb}" WITH (FORCE)`);
    await admin.end();
    await server.stop();
  }
}

/** The trading tables' outbox triggers (migration 0005) on or off. */
async function setOutboxTriggers(config: DatabaseConfig, enabled: boolean): Promise<void> {
  const action = enabled ? 'ENABLE' : 'DISABLE';
  await asAdmin(config, (admin) =>
    admin.query(`ALTER TABLE execution.orders ${action} TRIGGER publish_inserts, ${action} TRIGGER publish_updates;
                 ALTER TABLE execution.trades ${action} TRIGGER publish_inserts;
                 ALTER TABLE execution.positions ${action} TRIGGER publish_inserts, ${action} TRIGGER publish_updates`),
  );
}

/** The audit trail's triggers (migration 0010) on every audited table, on or off. */
async function setAuditTriggers(config: DatabaseConfig, enabled: boolean): Promise<void> {
  await asAdmin(config, async (admin) => {
    const { rows } = await admin.query<{ relation: string }>("SELECT tgrelid::regclass::text AS relation FROM pg_trigger WHERE tgname = 'audit_changes'");
    for (const { relation } of rows) await admin.query(`ALTER TABLE ${relation} ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER audit_changes`);
  });
}

/**
 * The order flow with the audit triggers on and off, in eight windows of `seconds` / 2: on, off,
 * off, on, off, on, on, off, so that drift of the machine cancels (at 8 clients two windows of
 * the same setting differed by up to 15 % on a 2-core machine; four ABBA windows gave audit costs
 * from 14 % to 22 % in runs of the same code).
 */
async function auditOnAndOff(config: DatabaseConfig, clients: number, seconds: number): Promise<{ audited: number; unaudited: number }> {
  const window = seconds / 2;
  // Warm-up, not counted: the relay and sealer processes have just started (and compiled).
  await orderFlow(config, clients, 2);
  const measured: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (const audit of ['on', 'off', 'off', 'on', 'off', 'on', 'on', 'off'] as const) {
    if (audit === 'off') await setAuditTriggers(config, false);
    try {
      measured[audit].push(await orderFlow(config, clients, window));
    } finally {
      if (audit === 'off') await setAuditTriggers(config, true);
    }
  }
  const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
  return { audited: mean(measured.on), unaudited: mean(measured.off) };
}

/**
 * Runs `work` while a `tradedb relay` process (as deployed: a process of its own) publishes the
 * outbox to Redis at REDIS_URL (default the local one).
 */
async function withRelay<T>(env: Record<string, string>, config: DatabaseConfig, work: () => Promise<T>): Promise<T> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `tdbbflow${Date.now().toString(36)}`;
  try {
    return await withCliProcess(['relay'], { ...env, REDIS_URL: redisUrl, TRADEDB_REDIS_PREFIX: prefix }, config, 'relay running', work);
  } finally {
    await deleteRedisKeys(redisUrl, prefix);
  }
}

/** Removes what a relay of this benchmark left in Redis under `prefix`. */
async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}

/** One account per client with three risk limits the check must read, and one symbol to trade. */
async function prepareAccounts(config: DatabaseConfig, count: number): Promise<void> {
  await asAdmin(config, async (admin) => {
    await admin.query("INSERT INTO data_ingestion.symbols (symbol) VALUES ('FLOW')");
    for (let index = 0; index < count; index += 1) {
      const account = `bench-${index}`;
      await admin.query("INSERT INTO shared.accounts (account_id, name, starting_cash) VALUES ($1, 'bench', 1000000)", [account]);
      await admin.query(
        `INSERT INTO risk_management.risk_limits (account_id, scope, limit_type, limit_value)
         VALUES ($1, 'account', 'max_order_notional', 1000000), ($1, 'account', 'max_position_quantity', 1000), ($1, 'account', 'max_open_orders', 100)`,
        [account],
      );
    }
  });
}

async function pgbench(config: DatabaseConfig, database: string, clients: number, seconds: number): Promise<number> {
  const { stdout } = await run('pgbench', ['-n', '-c', String(clients), '-j', String(Math.min(clients, os.cpus().length)), '-T', String(seconds), database], { env: clientToolEnv(config) });
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!match) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
  return Number(match[1]);
}

/**
 * Bytes of WAL per order (pg_current_wal_insert_lsn, cluster-wide, one step at a time on a quiet
 * server): the order flow at one client, then a relay draining its events to Redis and the sealer
 * sealing its audit rows. After a checkpoint, each page's first change is logged whole; a
 * checkpoint and a warm-up of the same steps come first, so those images of the pages the steps
 * keep touching are not counted. (pgbench is not measured so: its transactions touch random
 * pages of a large table, and what it logs depends on how long ago the checkpoint was — about
 * 500 bytes a transaction measured with pg_waldump without one, see docs/decisions.md.)
 */
async function walPerOrder(config: DatabaseConfig): Promise<{ flow: number; relay: number; sealer: number; deployed: number }> {
  const owner = createOwnerPool(config);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `tdbbwal${Date.now().toString(36)}`;
  const bus = createEventBus({ redis: { url: redisUrl, prefix }, events: { retentionMs: 3_600_000, streamMaxLength: 1_000_000, maxAttempts: 5 } });
  const relay = bus.createRelay({ pool: owner });
  const relayAll = async (): Promise<void> => {
    while ((await relay.relayOnce()).progressed);
  };
  const walBytes = async (work: () => Promise<unknown>): Promise<number> => {
    const lsn = async () => (await owner.query<{ at: string }>('SELECT pg_current_wal_insert_lsn()::text AS at')).rows[0]!.at;
    const start = await lsn();
    await work();
    const { rows } = await owner.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1) AS bytes', [start]);
    return Number(rows[0]!.bytes);
  };
  try {
    await asAdmin(config, (admin) => admin.query('CHECKPOINT'));
    // Warm-up: what earlier phases left, and a second of the same steps.
    await orderFlow(config, 1, 1);
    await relayAll();
    await sealAuditLog(owner);
    let orders = 0;
    const flow = await walBytes(async () => (orders = Math.round((await orderFlow(config, 1, 2)) * 2)));
    const relayed = await walBytes(relayAll);
    const sealed = await walBytes(() => sealAuditLog(owner));
    const per = (bytes: number) => Math.round(bytes / orders);
    return { flow: per(flow), relay: per(relayed), sealer: per(sealed), deployed: per(flow + relayed + sealed) };
  } finally {
    await bus.close();
    await owner.end();
    await deleteRedisKeys(redisUrl, prefix);
  }
}

/** `clients` loops, each with its own account, running executeOrder back to back for `seconds`. */
async function orderFlow(config: DatabaseConfig, clients: number, seconds: number): Promise<number> {
  const pools = createPools({ ...config, services: { ...config.services, execution: { ...config.services.execution, pool: { ...config.services.execution.pool, max: clients } } } });
  const pool = pools.services.execution;
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  try {
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        const account = `bench-${client}`;
        for (let sequence = 0; performance.now() < deadline; sequence += 1) {
          const id = `${account}-${Date.now().toString(36)}-${sequence}`;
          // Alternate sides so the position stays within its limit however long the run.
          await executeOrder(pool, { accountId: account, clientOrderId: id, symbol: 'FLOW', side: sequence % 2 === 0 ? 'buy' : 'sell', orderType: 'limit', quantity: '5', limitPrice: '100' }, { brokerFillId: id, quantity: '5', price: '99.5' });
          done += 1;
        }
      }),
    );
  } finally {
    await pools.close();
  }
  return done / seconds;
}

/** `total` fills of quantity 1 spread over 50 open orders of one account, `size` to a recordFills transaction. */
async function batchFills(config: DatabaseConfig, total: number, size: number): Promise<number> {
  const pools = createPools(config);
  const pool = pools.services.execution;
  try {
    const orders = new OrderService(pool);
    const ids: number[] = [];
    for (let index = 0; index < 50; index += 1) {
      const { order } = await orders.place({ accountId: 'bench-batch', symbol: 'FLOW', side: index % 2 === 0 ? 'buy' : 'sell', quantity: String(total) });
      await orders.submit('bench-batch', order.id);
      ids.push(order.id);
    }
    const started = performance.now();
    for (let first = 0; first < total; first += size) {
      const fills = Array.from({ length: Math.min(size, total - first) }, (_, offset) => ({ orderId: ids[(first + offset) % ids.length]!, brokerFillId: `batch-${size}-${first + offset}`, quantity: '1', price: String(100 + ((first + offset) % 7)) }));
      await recordFills(pool, 'bench-batch', fills);
    }
    return total / ((performance.now() - started) / 1000);
  } finally {
    await pools.close();
  }
}

