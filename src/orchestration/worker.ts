import { EventEmitter } from 'node:events';
import { Logger, run, runMigrations, type Runner, type Task, type TaskList, type WorkerEvents } from 'graphile-worker';
import type { Config } from '../config/load-config.ts';
import type { DatabaseConfig } from '../config/database-config.ts';
import type { Pools } from '../db/pools.ts';
import type { BarSource, FlowContext, FlowDefinition, ReferenceSource } from './flow-definition.ts';
import { flowTaskIdentifier } from './flow-definition.ts';
import { FlowRunRepository, type FlowRunRow } from './flow-run-repository.ts';
import { cronItemsOf } from './flow-schedule.ts';
import { DEFAULT_BAR_SOURCES, DEFAULT_REFERENCE_SOURCES, FLOWS } from './flows.ts';
import { WorkerRegistry } from './worker-registry.ts';
import { withCorrelation } from '../shared/correlation.ts';
import { serviceLogger, type Logger as ServiceLogger } from '../services/logging/logger.ts';
import { timedOperation } from '../services/logging/performance-log.ts';
import { publishFlowRunFinished } from './flow-run-events.ts';

export interface WorkerOptions {
  database: DatabaseConfig;
  settings: Pick<Config, 'backup' | 'maintenance'>;
  pools: Pools;
  /** Default: every flow of flows.ts. */
  flows?: FlowDefinition<any>[] | undefined;
  barSources?: Record<string, BarSource> | undefined;
  referenceSources?: Record<string, ReferenceSource> | undefined;
  /** Jobs run at once by this process (default 2). Runs of one flow never overlap whatever this is. */
  concurrency?: number | undefined;
  /** Fire the flows' cron schedules (default true). */
  schedule?: boolean | undefined;
  /** How often this process renews its heartbeat (default 5 s). */
  heartbeatMs?: number | undefined;
  /** A worker whose heartbeat is older than this is dead: its jobs are unlocked (default 30 s). */
  staleAfterMs?: number | undefined;
  /** How often to look for jobs scheduled in the future or retried (default 2 s; new jobs wake it at once). */
  pollIntervalMs?: number | undefined;
}

export interface RunningWorker {
  /** graphile-worker ids of this process's workers. */
  workerIds(): string[];
  /** Finishes the jobs in flight, then stops. */
  stop(): Promise<void>;
}

/** The worker options that come from configuration (TRADEDB_WORKER_*, backup and maintenance settings). */
export function workerSettings(config: Config): Pick<WorkerOptions, 'settings' | 'concurrency' | 'staleAfterMs'> {
  return { settings: config, concurrency: config.worker.concurrency, staleAfterMs: config.worker.staleAfterMs };
}

/** Installs (or upgrades) graphile-worker's schema in the orchestration database; idempotent. */
export async function installJobQueue(pools: Pools): Promise<void> {
  await runMigrations({ pgPool: pools.orchestration, logger: quietLogger(serviceLogger('orchestration')) });
}

/**
 * Runs flows as graphile-worker jobs in the orchestration database: each flow's cron schedule
 * (with backfill of runs missed while no worker was up), jobs added by `tradedb flows run`, retries
 * with exponential backoff. Every run, attempt and task is recorded in orchestration.flow_runs,
 * flow_run_attempts and task_runs. Any number of workers, on any hosts, may share the database:
 * each job runs once, and a worker that dies (its heartbeat stops) has its jobs unlocked and its
 * attempts marked failed by the others.
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const logger = serviceLogger('orchestration');
  const flows = options.flows ?? FLOWS;
  await installJobQueue(options.pools);
  const registry = new WorkerRegistry(options.pools.orchestration, {
    heartbeatMs: options.heartbeatMs ?? 5_000,
    staleAfterMs: options.staleAfterMs ?? 30_000,
    log: (line) => logger.warn(line),
  });
  const events: WorkerEvents = new EventEmitter();
  // Jobs are locked in the name of the worker pool (and, without a local queue, of its workers).
  events.on('pool:create', ({ workerPool }) => registry.register(workerPool.id));
  events.on('pool:release', ({ pool }) => registry.unregister(pool.id));
  events.on('worker:create', ({ worker }) => registry.register(worker.workerId));
  events.on('worker:release', ({ worker }) => registry.unregister(worker.workerId));
  await registry.start();

  const taskList: TaskList = Object.fromEntries(flows.map((flow) => [flowTaskIdentifier(flow.name), flowTask(flow, options, registry)]));
  let runner: Runner;
  try {
    runner = await run({
      pgPool: options.pools.orchestration,
      taskList,
      parsedCronItems: options.schedule === false ? [] : cronItemsOf(flows),
      concurrency: options.concurrency ?? 2,
      pollInterval: options.pollIntervalMs ?? 2_000,
      noHandleSignals: true,
      events,
      logger: quietLogger(logger),
    });
  } catch (error) {
    await registry.stop();
    throw error;
  }
  return {
    workerIds: () => registry.ids(),
    async stop() {
      await runner.stop();
      await registry.stop();
    },
  };
}

/** graphile-worker's own log lines, warnings and errors only (it is chatty at info). */
function quietLogger(logger: ServiceLogger): Logger {
  return new Logger(() => (level, message) => {
    if (level === 'error') logger.error(`graphile-worker: ${message}`);
    else if (level === 'warning') logger.warn(`graphile-worker: ${message}`);
  });
}

interface FlowJobPayload {
  flowRunId?: number;
  parameters?: Record<string, unknown>;
  _cron?: { ts: string; backfilled: boolean };
}

/** The graphile-worker task of a flow: finds or makes its run, records the attempt, runs the flow. */
function flowTask(flow: FlowDefinition<any>, options: WorkerOptions, registry: WorkerRegistry): Task {
  const logger = serviceLogger('orchestration');
  return async (rawPayload, helpers) => {
    const payload = (rawPayload ?? {}) as FlowJobPayload;
    const job = helpers.job;
    const runs = new FlowRunRepository(options.pools.orchestration);
    let run: FlowRunRow | undefined;
    if (payload.flowRunId !== undefined) run = await runs.get(payload.flowRunId);
    else if (payload._cron) run = await runs.forSchedule(flow.name, new Date(payload._cron.ts), payload._cron.backfilled, payload.parameters ?? {}, job.max_attempts);
    run ??= await runs.createManual(flow.name, payload.parameters ?? {}, job.max_attempts);
    const workerId = job.locked_by ?? 'unknown';
    await registry.ensure(workerId);
    run = await runs.startAttempt(run.id, job.attempts, workerId, job.id);
    const attempt = job.attempts;
    const attemptStarted = performance.now();
    try {
      const parameters = flow.parameters.parse(run.parameters);
      const context: FlowContext = {
        flowRunId: run.id,
        attempt,
        correlationId: run.correlationId,
        pools: options.pools,
        database: options.database,
        settings: options.settings,
        barSources: options.barSources ?? DEFAULT_BAR_SOURCES,
        referenceSources: options.referenceSources ?? DEFAULT_REFERENCE_SOURCES,
        runFor: run.scheduledFor ?? new Date(),
        async task(name, taskParameters, work) {
          const taskId = await runs.startTask(run!.id, attempt, name, taskParameters);
          try {
            const result = await timedOperation('orchestration', `flow.${flow.name}.${name}`, work, () => ({ details: { flowRunId: run!.id, attempt } }));
            await runs.endTask(taskId, { result });
            return { result };
          } catch (error) {
            const message = (error as Error).message ?? String(error);
            await runs.endTask(taskId, { error: message });
            logger.warn({ flow: flow.name, flowRunId: run!.id, task: name }, `flow ${flow.name} run ${run!.id}: task ${name} failed: ${message}`);
            return { error: message };
          }
        },
      };
      // Everything the flow does (its events, its log lines) carries the run's correlation id.
      const result = await withCorrelation({ correlationId: run.correlationId }, () => flow.run(context, parameters));
      await runs.complete(run.id, attempt, result);
      await publishFlowRunFinished(options.pools.services.logging, { runId: run.id, flowName: flow.name, state: 'completed', durationMs: Math.round(performance.now() - attemptStarted), correlationId: run.correlationId });
      logger.info({ flow: flow.name, flowRunId: run.id, attempt, correlationId: run.correlationId }, `flow ${flow.name} run ${run.id} completed (attempt ${attempt})`);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      await runs.fail(run.id, attempt, message, attempt >= job.max_attempts);
      if (attempt >= job.max_attempts) {
        await publishFlowRunFinished(options.pools.services.logging, { runId: run.id, flowName: flow.name, state: 'failed', durationMs: Math.round(performance.now() - attemptStarted), error: message, correlationId: run.correlationId });
      }
      logger.warn({ flow: flow.name, flowRunId: run.id, attempt, correlationId: run.correlationId }, `flow ${flow.name} run ${run.id} attempt ${attempt} of ${job.max_attempts} failed: ${message}`);
      throw error;
    }
  };
}

