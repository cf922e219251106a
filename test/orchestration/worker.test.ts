import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { adminOptions } from '../../src/db/connection-options.ts';
import { createPools, type Pools } from '../../src/db/pools.ts';
import { FlowRunRepository } from '../../src/orchestration/flow-run-repository.ts';
import { cancelFlowRun, triggerFlow } from '../../src/orchestration/flow-trigger.ts';
import { installJobQueue, type RunningWorker, startWorker } from '../../src/orchestration/worker.ts';
import { collectOrchestrationStatus, formatOrchestrationStatus } from '../../src/orchestration/orchestration-status.ts';
import { TEST_FLOWS } from '../support/probe-flows.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../support/worker-child.ts');

let db: TestDatabases;
let pools: Pools;
let runs: FlowRunRepository;
const running: Array<{ worker: RunningWorker; pools: Pools }> = [];

/** A worker on its own pools, as another process would have, stopped after each test. */
async function worker(options: { staleAfterMs?: number; schedule?: boolean } = {}): Promise<RunningWorker> {
  const ownPools = createPools(db.config, () => undefined);
  const started = await startWorker({ database: db.config, settings: loadConfig({ env: db.env, envFile: false }), pools: ownPools, flows: TEST_FLOWS, schedule: options.schedule ?? false, heartbeatMs: 200, staleAfterMs: options.staleAfterMs ?? 30_000, pollIntervalMs: 200 });
  running.push({ worker: started, pools: ownPools });
  return started;
}

async function settled(runId: number): Promise<void> {
  await waitFor(async () => ['completed', 'failed'].includes((await runs.get(runId))!.state), { timeoutMs: 40_000, intervalMs: 50 });
}

beforeAll(async () => {
  db = await cloneTemplateDatabases('worker');
  pools = createPools(db.config, () => undefined);
  runs = new FlowRunRepository(pools.orchestration);
  await installJobQueue(pools);
});

afterEach(async () => {
  for (const { worker: each, pools: own } of running.splice(0)) {
    await each.stop();
    await own.close();
  }
});

afterAll(async () => {
  await pools?.close();
  await db?.drop();
});

/** The run's flow.run_finished events, once there is one. */
async function finishedEvents(runId: number) {
  const query = () => pools.services.logging.query("SELECT payload, correlation_id FROM shared.event_outbox WHERE event_type = 'flow.run_finished' AND aggregate_id = $1", [String(runId)]);
  await waitFor(async () => (await query()).rows.length > 0);
  return query();
}

describe('the flow worker', () => {
  it('runs a queued flow and records its run, attempt and task', async () => {
    await worker();
    const run = await triggerFlow(pools, 'probe', { label: 'one' }, TEST_FLOWS);
    await settled(run.id);
    expect(await runs.get(run.id)).toMatchObject({ state: 'completed', attempts: 1, trigger: 'manual', result: { label: 'one', attempt: 1 } });
    expect(await runs.attempts(run.id)).toMatchObject([{ attempt: 1, state: 'completed' }]);
    expect(await runs.tasks(run.id)).toMatchObject([{ attempt: 1, taskName: 'probe', state: 'completed' }]);
  });

  it('status shows the live workers with a fresh heartbeat, and the queue', async () => {
    const running = await worker();
    await waitFor(async () => (await collectOrchestrationStatus(pools.orchestration)).workers.length >= running.workerIds().length);
    const status = await collectOrchestrationStatus(pools.orchestration);
    expect(status.workers.map((row) => row.workerId).sort()).toEqual(running.workerIds().sort());
    expect(status.workers.every((row) => row.heartbeatAgeSeconds <= 5 && row.pid === process.pid)).toBe(true);
    expect(status.jobs).toEqual({ waiting: expect.any(Number), locked: expect.any(Number), failedFinally: expect.any(Number) });
    expect(formatOrchestrationStatus(status)).toMatch(/^Workers +\S+:\d+ /);
  });

  it('cancels a waiting run: its job leaves the queue and no worker runs it; a finished run cannot be cancelled', async () => {
    const waiting = await triggerFlow(pools, 'probe', { label: 'cancel-me' }, TEST_FLOWS);
    expect(await cancelFlowRun(pools, waiting.id)).toMatchObject({ state: 'cancelled', error: 'cancelled by hand' });
    expect((await pools.orchestration.query('SELECT 1 FROM graphile_worker.jobs WHERE id = (SELECT job_id FROM orchestration.flow_runs WHERE id = $1)', [waiting.id])).rowCount).toBe(0);
    const after = await triggerFlow(pools, 'probe', { label: 'runs' }, TEST_FLOWS);
    await worker();
    await settled(after.id);
    expect(await runs.get(waiting.id)).toMatchObject({ state: 'cancelled', attempts: 0 });
    expect(await runs.attempts(waiting.id)).toEqual([]);
    await expect(cancelFlowRun(pools, after.id)).rejects.toThrow(/is completed; only a scheduled or retrying run can be cancelled/);
    await expect(cancelFlowRun(pools, 999_999)).rejects.toThrow(/No flow run 999999/);
  });

  it('refuses bad parameters by name and queues nothing', async () => {
    const before = (await runs.list({ limit: 1000 })).length;
    await expect(triggerFlow(pools, 'probe', { label: 7, extra: true }, TEST_FLOWS)).rejects.toThrow(/--param label: .*expected string[\s\S]*--param extra \(not a parameter of this flow\)/);
    await expect(triggerFlow(pools, 'nope', {}, TEST_FLOWS)).rejects.toThrow(/Unknown flow "nope"; flows: probe, hourly/);
    expect((await runs.list({ limit: 1000 })).length).toBe(before);
  });

  it('retries a failing run with backoff; the run shows the failed attempt and its task', async () => {
    await worker();
    const run = await triggerFlow(pools, 'probe', { label: 'flaky', failAttempts: 1 }, TEST_FLOWS);
    await settled(run.id);
    const finished = await runs.get(run.id);
    expect(finished).toMatchObject({ state: 'completed', attempts: 2 });
    // One flow.run_finished event in the trading database's outbox (published right after the run is recorded), under the run's correlation id.
    const events = await finishedEvents(run.id);
    expect(events.rows).toEqual([{ payload: expect.objectContaining({ runId: run.id, flowName: 'probe', state: 'completed' }), correlation_id: finished!.correlationId }]);
    const attempts = await runs.attempts(run.id);
    expect(attempts.map((attempt) => [attempt.attempt, attempt.state])).toEqual([[1, 'failed'], [2, 'completed']]);
    expect(attempts[0]!.error).toMatch(/fails attempt 1 on purpose/);
    expect((await runs.tasks(run.id)).map((task) => [task.attempt, task.state])).toEqual([[1, 'failed'], [2, 'completed']]);
  });

  it('a run that fails every attempt ends failed', async () => {
    await worker();
    const run = await triggerFlow(pools, 'probe', { label: 'doomed', failAttempts: 9 }, TEST_FLOWS);
    await settled(run.id);
    expect(await runs.get(run.id)).toMatchObject({ state: 'failed', attempts: 3, error: expect.stringMatching(/fails attempt 3/) });
    const events = await finishedEvents(run.id);
    expect(events.rows).toEqual([{ correlation_id: expect.any(String), payload: expect.objectContaining({ state: 'failed', error: expect.stringMatching(/fails attempt 3/) }) }]);
  }, 60_000);

  it('two workers: each of 30 jobs runs exactly once', async () => {
    await worker();
    await worker();
    const queued = await Promise.all(Array.from({ length: 30 }, (_, index) => triggerFlow(pools, 'probe', { label: `pair-${index}` }, TEST_FLOWS)));
    for (const run of queued) await settled(run.id);
    for (const run of queued) {
      expect(await runs.attempts(run.id)).toHaveLength(1);
      expect(await runs.tasks(run.id)).toHaveLength(1);
    }
  });

  it('a worker killed with -9 mid-job: another sees its heartbeat stop, the job is retried, the run shows the failed attempt', async () => {
    const run = await triggerFlow(pools, 'probe', { label: 'killed', hangOnAttempt: 1 }, TEST_FLOWS);
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...db.env }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await waitFor(async () => (await runs.attempts(run.id)).some((attempt) => attempt.state === 'running'), { timeoutMs: 30_000 });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    } finally {
      child.kill('SIGKILL');
    }
    await worker({ staleAfterMs: 1_000 });
    await settled(run.id);
    const finished = await runs.get(run.id);
    expect(finished).toMatchObject({ state: 'completed', attempts: 2 });
    // One flow.run_finished event in the trading database's outbox (published right after the run is recorded), under the run's correlation id.
    const events = await finishedEvents(run.id);
    expect(events.rows).toEqual([{ payload: expect.objectContaining({ runId: run.id, flowName: 'probe', state: 'completed' }), correlation_id: finished!.correlationId }]);
    const attempts = await runs.attempts(run.id);
    expect(attempts.map((attempt) => [attempt.attempt, attempt.state])).toEqual([[1, 'failed'], [2, 'completed']]);
    expect(attempts[0]!.error).toMatch(/stopped \(no heartbeat for over 1 s\): killed or its host lost/);
    expect(attempts[0]!.workerId).not.toBe(attempts[1]!.workerId);
  });

  it('a job locked by a worker that never registered (killed before its row landed) is unlocked too', async () => {
    const run = await triggerFlow(pools, 'probe', { label: 'ghost' }, TEST_FLOWS);
    await pools.orchestration.query("UPDATE graphile_worker._private_jobs SET locked_by = 'pool-ghost', locked_at = now() - interval '1 minute', attempts = 1 WHERE id = (SELECT job_id FROM orchestration.flow_runs WHERE id = $1)", [run.id]);
    await worker({ staleAfterMs: 1_000 });
    await settled(run.id);
    expect(await runs.get(run.id)).toMatchObject({ state: 'completed', attempts: 2 });
  });

  it('reconnects after its database connections are cut (as by a server restart)', async () => {
    await worker();
    const first = await triggerFlow(pools, 'probe', { label: 'before' }, TEST_FLOWS);
    await settled(first.id);
    const admin = new pg.Client(adminOptions(db.config));
    await admin.connect();
    try {
      const { rows } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.config.orchestration.database]);
      expect(rows.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    // The test's own pool may still hand out a few of its cut connections: each fails once and is discarded.
    let after: Awaited<ReturnType<typeof triggerFlow>> | undefined;
    for (let attempt = 1; !after; attempt += 1) {
      after = await triggerFlow(pools, 'probe', { label: 'after' }, TEST_FLOWS).catch((error: unknown) => {
        if (attempt >= 10) throw error;
        return undefined;
      });
    }
    await settled(after.id);
    expect(await runs.get(after.id)).toMatchObject({ state: 'completed' });
  });

  it('backfills the scheduled runs missed while no worker was up, within the backfill window', async () => {
    // The schedule was known a day ago and last fired ten hours ago; backfill reaches back 3 hours.
    await pools.orchestration.query(
      "INSERT INTO graphile_worker._private_known_crontabs (identifier, known_since, last_execution) VALUES ('hourly', now() - interval '1 day', now() - interval '10 hours')",
    );
    const now = Date.now();
    const expected = [3, 2, 1].map((back) => Math.ceil((now - back * 3_600_000) / 3_600_000) * 3_600_000).filter((hour) => hour <= now).map((hour) => new Date(hour).toISOString());
    expect(expected).toHaveLength(3);
    await worker({ schedule: true });
    await waitFor(async () => (await runs.list({ flowName: 'hourly', state: 'completed' })).length >= expected.length, { timeoutMs: 30_000 });
    const backfilled = (await runs.list({ flowName: 'hourly' })).sort((a, b) => a.scheduledFor!.getTime() - b.scheduledFor!.getTime());
    expect(backfilled.map((run) => run.scheduledFor!.toISOString())).toEqual(expected);
    expect(backfilled.every((run) => run.trigger === 'backfill' && run.state === 'completed')).toBe(true);
    expect(backfilled.map((run) => run.result)).toEqual(expected.map((ranFor) => ({ ranFor })));
  });
});
