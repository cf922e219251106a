import { z } from 'zod';
import { UserFacingError } from '../db/errors.ts';
import type { Pools } from '../db/pools.ts';
import { withTransaction } from '../db/transaction.ts';
import { flowTaskIdentifier, type FlowDefinition } from './flow-definition.ts';
import { FlowRunRepository, type FlowRunRow } from './flow-run-repository.ts';
import { FLOWS } from './flows.ts';
import { installJobQueue } from './worker.ts';

/** The flow called `name`, or an error listing the known ones. */
export function findFlow(name: string, flows: FlowDefinition<any>[] = FLOWS): FlowDefinition<any> {
  const flow = flows.find((candidate) => candidate.name === name);
  if (!flow) throw new UserFacingError(`Unknown flow ${JSON.stringify(name)}; flows: ${flows.map((candidate) => candidate.name).join(', ')}.`);
  return flow;
}

/**
 * Starts a run of a flow by hand: checks the parameters against the flow's schema (an error names
 * each bad one), then records the run and queues its job in one transaction, so there is never a
 * run without a job or a job without a run. A worker picks it up at once.
 */
export async function triggerFlow(pools: Pools, name: string, parameters: Record<string, unknown>, flows: FlowDefinition<any>[] = FLOWS): Promise<FlowRunRow> {
  const flow = findFlow(name, flows);
  const parsed = flow.parameters.safeParse(parameters);
  if (!parsed.success) {
    throw new UserFacingError(`flow ${name}: bad parameters:\n${parsed.error.issues.map((issue) => `  --param ${describePath(issue)}: ${issue.message}`).join('\n')}`);
  }
  await installJobQueue(pools);
  return withTransaction(pools.orchestration, async (client) => {
    const runs = new FlowRunRepository(client);
    const run = await runs.createManual(name, parsed.data as Record<string, unknown>, flow.maxAttempts);
    const { rows } = await client.query<{ id: string }>('SELECT (graphile_worker.add_job($1, $2::json, queue_name => $1, max_attempts => $3)).id::text AS id', [
      flowTaskIdentifier(name),
      JSON.stringify({ flowRunId: run.id }),
      flow.maxAttempts,
    ]);
    await runs.setJob(run.id, rows[0]!.id);
    return run;
  });
}

/**
 * Cancels a run that has not started (or waits for its next attempt): its job is deleted from the
 * queue and the run marked cancelled, in one transaction. A run a worker holds right now cannot be
 * cancelled mid-way (its job is locked), nor a finished one; both are refused with the reason.
 */
export async function cancelFlowRun(pools: Pools, runId: number): Promise<FlowRunRow> {
  return withTransaction(pools.orchestration, async (client) => {
    const runs = new FlowRunRepository(client);
    const { rows } = await client.query<{ state: string; job_id: string | null }>('SELECT state, job_id::text FROM orchestration.flow_runs WHERE id = $1 FOR UPDATE', [runId]);
    const run = rows[0];
    if (!run) throw new UserFacingError(`No flow run ${runId}: see tradedb flows runs.`);
    if (!['scheduled', 'retrying'].includes(run.state)) throw new UserFacingError(`Flow run ${runId} is ${run.state}; only a scheduled or retrying run can be cancelled.`);
    const deleted = run.job_id === null ? 0 : (await client.query('SELECT 1 FROM graphile_worker.complete_jobs(ARRAY[$1::bigint])', [run.job_id])).rowCount;
    if (run.job_id !== null && deleted === 0) throw new UserFacingError(`Flow run ${runId} has just been picked up by a worker; it cannot be cancelled mid-way.`);
    await client.query("UPDATE orchestration.flow_runs SET state = 'cancelled', ended_at = now(), error = coalesce(error, 'cancelled by hand') WHERE id = $1", [runId]);
    return (await runs.get(runId))!;
  });
}

function describePath(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `${issue.keys.join(', ')} (not a parameter of this flow)`;
  return issue.path.join('.') || '(parameters)';
}

/** `k=v` pairs from the command line: JSON values where they parse (3, true, ["A"]), text otherwise. */
export function parseParameterPairs(pairs: string[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UserFacingError(`--param ${JSON.stringify(pair)}: expected name=value, e.g. --param lookbackDays=3`);
    const value = pair.slice(equals + 1);
    try {
      result[pair.slice(0, equals)] = JSON.parse(value);
    } catch {
      result[pair.slice(0, equals)] = value;
    }
  }
  return result;
}

