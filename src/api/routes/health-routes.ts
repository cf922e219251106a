import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Pools } from '../../db/pools.ts';
import type { EventBus } from '../../events/event-bus.ts';
import { outboxBacklog } from '../../events/event-status.ts';
import { collectOrchestrationStatus } from '../../orchestration/orchestration-status.ts';

/** Milliseconds a database or Redis has to answer before it counts as down. */
const PROBE_TIMEOUT_MS = 2_000;
/** A worker whose heartbeat (every 5 s) is older than this is not counted as running. */
const WORKER_HEARTBEAT_LIMIT_S = 30;
/** An outbox event waiting longer than this means no relay is publishing. */
const RELAY_BACKLOG_LIMIT_S = 30;

type Probe = { status: 'ok' | 'down'; ms: number; error?: string };

async function probe(run: () => Promise<unknown>): Promise<Probe> {
  const started = performance.now();
  try {
    await Promise.race([run(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS).unref())]);
    return { status: 'ok', ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', ms: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

/** A check's own answer, or down with why (an error, or no answer within the probe's time): never a 500. */
async function checked<T extends { status: 'ok' | 'down' }>(check: () => Promise<T>): Promise<T | { status: 'down'; detail: string }> {
  let answer: T | undefined;
  const outcome = await probe(async () => {
    answer = await check();
  });
  return outcome.status === 'ok' && answer ? answer : { status: 'down', detail: outcome.error ?? 'no answer' };
}

/** Running workers (a recent heartbeat in orchestration.workers), or down with the reason. */
async function workerHealth(pools: Pools): Promise<{ status: 'ok' | 'down'; running: number; detail?: string }> {
  const { workers } = await collectOrchestrationStatus(pools.orchestration);
  const running = workers.filter((worker) => worker.heartbeatAgeSeconds <= WORKER_HEARTBEAT_LIMIT_S).length;
  return running > 0 ? { status: 'ok', running } : { status: 'down', running, detail: 'no worker has a heartbeat in the last 30 s: scheduled flows do not run (npm start or tradedb worker runs one)' };
}

/** The relay is judged by the outbox: an event waiting for long means nobody publishes. */
async function relayHealth(pools: Pools): Promise<{ status: 'ok' | 'down'; pending: number; oldestPendingSeconds: number | null; detail?: string }> {
  const { pending, oldestPendingSeconds: oldest } = await outboxBacklog(pools.services.logging);
  const stalled = oldest !== null && oldest > RELAY_BACKLOG_LIMIT_S;
  return {
    status: stalled ? 'down' : 'ok',
    pending,
    oldestPendingSeconds: oldest === null ? null : Math.round(oldest),
    ...(stalled ? { detail: `events have waited ${Math.round(oldest)} s for the relay: is one running (npm start or tradedb relay)?` } : {}),
  };
}

/**
 * GET /health, without a token: each database and Redis answers or not, a worker is alive, the
 * relay keeps up. A database down is 503 (nothing works); a worker, relay or Redis down is
 * "degraded" with 200 (the API still serves).
 */
export const healthRoutes = (pools: Pools, bus?: EventBus): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/health', { schema: { summary: 'Each database, Redis, the workers and the relay (no token needed)' } }, async (_request, reply) => {
      const databases = {
        trading: await probe(() => pools.services.logging.query('SELECT 1')),
        orchestration: await probe(() => pools.orchestration.query('SELECT 1')),
      };
      const databasesUp = Object.values(databases).every((database) => database.status === 'ok');
      const redis = bus?.mode === 'redis' ? await probe(() => bus.ping()) : { status: 'not_configured' as const };
      const worker = databases.orchestration.status === 'ok' ? await checked(() => workerHealth(pools)) : { status: 'down' as const, detail: 'the orchestration database is down' };
      const relay = databases.trading.status === 'ok' ? await checked(() => relayHealth(pools)) : { status: 'down' as const, detail: 'the trading database is down' };
      const degraded = redis.status === 'down' || worker.status === 'down' || relay.status === 'down';
      void reply.code(databasesUp ? 200 : 503);
      return { status: !databasesUp ? 'down' : degraded ? 'degraded' : 'ok', databases, redis, worker, relay };
    });
  };
