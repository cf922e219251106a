import { type Command, Option } from 'commander';
import { UserFacingError } from '../../db/errors.ts';
import { FLOW_RUN_STATES, FlowRunRepository, type FlowRunRow, type FlowRunState } from '../../orchestration/flow-run-repository.ts';
import { nextRuns } from '../../orchestration/flow-schedule.ts';
import { cancelFlowRun, findFlow, parseParameterPairs, triggerFlow } from '../../orchestration/flow-trigger.ts';
import { FLOWS } from '../../orchestration/flows.ts';
import { startWorker, workerSettings } from '../../orchestration/worker.ts';
import { waitForShutdown } from '../shutdown.ts';
import { withServicePools } from '../database-session.ts';
import { formatTable } from '../output-table.ts';
import { parseWholeNumber } from '../option-parsers.ts';


function runLine(run: FlowRunRow): string[] {
  return [
    String(run.id),
    run.flowName,
    run.trigger,
    run.scheduledFor?.toISOString().slice(0, 16) ?? '-',
    run.state,
    `${run.attempts}/${run.maxAttempts}`,
    run.startedAt?.toISOString().slice(0, 19) ?? '-',
    run.durationMs === null ? '-' : `${(run.durationMs / 1000).toFixed(1)} s`,
    (run.error ?? '').slice(0, 60),
  ];
}

/** `tradedb worker` and `tradedb flows list|run|cancel|runs|show`. */
export function registerFlowCommands(program: Command): void {
  program
    .command('worker')
    .description('run only a worker: scheduled flows and queued runs from the orchestration database, until Ctrl-C; more workers on other hosts may join')
    .option('--concurrency <n>', 'jobs at once in this process (default TRADEDB_WORKER_CONCURRENCY, 2)', parseWholeNumber)
    .option('--no-schedule', 'run queued jobs only; leave the cron schedules to other workers')
    .action(async (options: { concurrency?: number; schedule: boolean }) => {
      await withServicePools(async (pools, session) => {
        const worker = await startWorker({
          ...workerSettings(session.config),
          database: session.server.config,
          pools,
          concurrency: options.concurrency ?? session.config.worker.concurrency,
          schedule: options.schedule,
        });
        console.log(`worker running (${worker.workerIds().join(', ') || 'starting'}); flows: ${FLOWS.map((flow) => flow.name).join(', ')}. Ctrl-C stops it after the jobs in flight.`);
        const signal = await waitForShutdown();
        console.error(`${signal} received: finishing the jobs in flight ...`);
        await worker.stop();
      }, 'service');
    });

  const flows = program.command('flows').description('scheduled flows: what they are, start one, their run history');
  flows
    .command('list')
    .description('every flow with its schedule (UTC), its next run and its last run')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const lastRuns = await withServicePools(async (pools) => {
        const runs = new FlowRunRepository(pools.orchestration);
        return Object.fromEntries(await Promise.all(FLOWS.map(async (flow) => [flow.name, (await runs.list({ flowName: flow.name, limit: 1 }))[0]] as const)));
      });
      const rows = FLOWS.map((flow) => ({
        name: flow.name,
        cron: flow.cron ?? null,
        nextRun: flow.cron ? nextRuns(flow.cron, new Date(), 1)[0]!.toISOString() : null,
        maxAttempts: flow.maxAttempts,
        backfillHours: flow.backfillHours ?? 0,
        lastRun: lastRuns[flow.name] ? { id: lastRuns[flow.name]!.id, state: lastRuns[flow.name]!.state, createdAt: lastRuns[flow.name]!.createdAt } : null,
        description: flow.description,
      }));
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      console.log(formatTable(['FLOW', 'CRON (UTC)', 'NEXT RUN', 'LAST RUN', 'WHAT IT DOES'], rows.map((row) => [row.name, row.cron ?? '(by hand)', row.nextRun?.slice(0, 16) ?? '-', row.lastRun ? `${row.lastRun.id} ${row.lastRun.state}` : '-', row.description])));
    });

  flows
    .command('run <name>')
    .description('queue a run of a flow now (a running worker, or `npm start`, picks it up)')
    .option('--param <name=value>', 'a flow parameter, repeatable, e.g. --param symbols=AAPL,MSFT --param lookbackDays=3', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--json', 'print the run as JSON')
    .addHelpText('after', `\nParameters:\n${FLOWS.map((flow) => `  ${flow.name}: ${Object.keys((flow.parameters as unknown as { shape?: object }).shape ?? {}).join(', ') || '(none)'}`).join('\n')}`)
    .action(async (name: string, options: { param: string[]; json?: boolean }) => {
      findFlow(name);
      const run = await withServicePools((pools) => triggerFlow(pools, name, parseParameterPairs(options.param)));
      if (options.json) console.log(JSON.stringify(run, null, 2));
      else console.log(`queued run ${run.id} of ${name} (parameters ${JSON.stringify(run.parameters)}); follow it with: tradedb flows show ${run.id}`);
    });

  flows
    .command('cancel <id>')
    .description('cancel a run that is waiting (scheduled, or retrying before its next attempt)')
    .action(async (id: string) => {
      const run = await withServicePools((pools) => cancelFlowRun(pools, parseWholeNumber(id)));
      console.log(`cancelled run ${run.id} of ${run.flowName}`);
    });

  flows
    .command('runs')
    .description('flow runs, newest first')
    .option('--name <flow>', 'one flow only')
    .addOption(new Option('--state <state>', 'one state only').choices(FLOW_RUN_STATES))
    .option('--limit <n>', 'at most this many', parseWholeNumber, 20)
    .option('--json', 'print JSON')
    .action(async (options: { name?: string; state?: FlowRunState; limit: number; json?: boolean }) => {
      if (options.name) findFlow(options.name);
      const runs = await withServicePools((pools) => new FlowRunRepository(pools.orchestration).list({ flowName: options.name, state: options.state, limit: options.limit }));
      if (options.json) console.log(JSON.stringify(runs, null, 2));
      else console.log(runs.length === 0 ? '(no runs)' : formatTable(['ID', 'FLOW', 'TRIGGER', 'FOR', 'STATE', 'ATTEMPTS', 'STARTED', 'DURATION', 'ERROR'], runs.map(runLine)));
    });

  flows
    .command('show <id>')
    .description('one run: its attempts (the failed ones too) and its tasks')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const runId = parseWholeNumber(id);
      const detail = await withServicePools(async (pools) => {
        const runs = new FlowRunRepository(pools.orchestration);
        const run = await runs.get(runId);
        return run ? { run, attempts: await runs.attempts(runId), tasks: await runs.tasks(runId) } : undefined;
      });
      if (!detail) throw new UserFacingError(`No flow run ${runId}: see tradedb flows runs.`);
      if (options.json) {
        console.log(JSON.stringify(detail, null, 2));
        return;
      }
      console.log(formatTable(['ID', 'FLOW', 'TRIGGER', 'FOR', 'STATE', 'ATTEMPTS', 'STARTED', 'DURATION', 'ERROR'], [runLine(detail.run)]));
      console.log(`result: ${JSON.stringify(detail.run.result)}`);
      console.log(`\nattempts:\n${formatTable(['#', 'WORKER', 'STATE', 'STARTED', 'ENDED', 'ERROR'], detail.attempts.map((attempt) => [String(attempt.attempt), attempt.workerId, attempt.state, attempt.startedAt.toISOString().slice(0, 19), attempt.endedAt?.toISOString().slice(0, 19) ?? '-', attempt.error ?? '']))}`);
      if (detail.tasks.length > 0) {
        console.log(`\ntasks:\n${formatTable(['ATTEMPT', 'TASK', 'STATE', 'DURATION', 'ERROR'], detail.tasks.map((task) => [String(task.attempt), task.taskName, task.state, task.durationMs === null ? '-' : `${task.durationMs} ms`, task.error ?? '']))}`);
      }
    });
}
