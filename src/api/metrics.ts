import { Gauge, Histogram, Registry } from 'prom-client';
import type { Pools } from '../db/pools.ts';
import { onQueryTimed } from '../db/query-timing.ts';
import type { EventBus } from '../events/event-bus.ts';
import { collectEventStatus, outboxBacklog } from '../events/event-status.ts';
import { tableSizes } from '../ops/database-health.ts';
import { collectOrchestrationStatus } from '../orchestration/orchestration-status.ts';

export interface ApiMetrics {
  registry: Registry;
  /** Stops timing queries (the histogram's listener). */
  stop(): void;
}

/**
 * The Prometheus metrics of /metrics: pool connections, pooled statement durations per pool,
 * ingestion rows and rejects, the outbox backlog and each consumer group's lag, the job queue
 * and flow run outcomes, the newest backup's age, database and table sizes. Gauges read the
 * databases when scraped (through least-privilege service roles), so a scrape costs a few
 * queries and nothing runs between scrapes.
 */
export function createApiMetrics(pools: Pools, bus?: EventBus): ApiMetrics {
  const registry = new Registry();
  const trading = pools.services.logging;

  new Gauge({
    name: 'tradedb_pool_connections',
    help: 'Connections of each pool, by state (total, idle, waiting clients, max).',
    labelNames: ['pool', 'state'],
    registers: [registry],
    collect() {
      for (const [pool, stats] of Object.entries(pools.stats())) {
        for (const state of ['total', 'idle', 'waiting', 'max'] as const) this.set({ pool, state }, stats[state]);
      }
    },
  });
  const durations = new Histogram({
    name: 'tradedb_query_duration_seconds',
    help: 'Duration of statements run through a pool (pool.query), by pool.',
    labelNames: ['pool'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const stop = onQueryTimed((pool, seconds) => durations.observe({ pool }, seconds));

  new Gauge({
    name: 'tradedb_ingested_rows',
    help: 'Rows every ingestion run so far read, inserted, updated and rejected.',
    labelNames: ['outcome'],
    registers: [registry],
    async collect() {
      const { rows } = await pools.services.data_ingestion.query<Record<'read' | 'inserted' | 'updated' | 'rejected', string>>(
        `SELECT coalesce(sum(rows_read), 0) AS read, coalesce(sum(rows_inserted), 0) AS inserted,
                coalesce(sum(rows_updated), 0) AS updated, coalesce(sum(rows_rejected), 0) AS rejected
           FROM data_ingestion.ingestion_runs`,
      );
      for (const [outcome, value] of Object.entries(rows[0]!)) this.set({ outcome }, Number(value));
    },
  });

  // Set by the collect of the gauge registered before them, so registered after it: a registry
  // serializes its metrics in registration order.
  const lag = new Gauge({ name: 'tradedb_consumer_lag_events', help: 'Events each consumer group has yet to handle, by topic.', labelNames: ['group', 'topic'], registers: [] });
  const jobs = new Gauge({ name: 'tradedb_jobs', help: "graphile-worker's queue, by state (waiting, running, failed for good).", labelNames: ['state'], registers: [] });
  const backupAge = new Gauge({ name: 'tradedb_last_backup_age_seconds', help: 'Age of the newest backup (absent: none yet).', registers: [] });
  new Gauge({
    name: 'tradedb_outbox_pending_events',
    help: 'Outbox events not yet published by the relay.',
    registers: [registry],
    async collect() {
      if (!bus) {
        this.set((await outboxBacklog(trading)).pending);
        return;
      }
      const status = await collectEventStatus(bus, trading);
      this.set(status.pending);
      lag.reset();
      for (const group of status.groups) if (group.lag !== null) lag.set({ group: group.group, topic: group.topic }, group.lag);
    },
  });

  registry.registerMetric(lag);
  new Gauge({
    name: 'tradedb_flow_runs',
    help: 'Flow runs by state (running and retrying now; failed in the last day).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const status = await collectOrchestrationStatus(pools.orchestration);
      this.set({ state: 'running' }, status.runs.running);
      this.set({ state: 'retrying' }, status.runs.retrying);
      this.set({ state: 'failed_last_day' }, status.runs.failedLastDay);
      jobs.reset();
      if (status.jobs) {
        jobs.set({ state: 'waiting' }, status.jobs.waiting);
        jobs.set({ state: 'running' }, status.jobs.locked);
        jobs.set({ state: 'failed' }, status.jobs.failedFinally);
      }
      backupAge.reset();
      if (status.lastBackup) backupAge.set(status.lastBackup.ageHours * 3600);
    },
  });
  registry.registerMetric(jobs);
  registry.registerMetric(backupAge);

  new Gauge({
    name: 'tradedb_database_size_bytes',
    help: 'Size of each database.',
    labelNames: ['database'],
    registers: [registry],
    async collect() {
      for (const pool of [trading, pools.orchestration]) {
        const { rows } = await pool.query<{ database: string; bytes: string }>('SELECT current_database() AS database, pg_database_size(current_database()) AS bytes');
        this.set({ database: rows[0]!.database }, Number(rows[0]!.bytes));
      }
    },
  });
  new Gauge({
    name: 'tradedb_table_size_bytes',
    help: 'Size of the 20 largest tables of the trading database (partitions summed into their table).',
    labelNames: ['table'],
    registers: [registry],
    async collect() {
      const rows = await tableSizes(trading, 20);
      this.reset();
      for (const row of rows) this.set({ table: row.table }, row.bytes);
    },
  });
  return { registry, stop };
}
