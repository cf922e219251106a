import type { Queryable } from '../db/queryable.ts';
import { deterministicEventId } from '../events/event-id.ts';
import { publishEvent } from '../events/event-publisher.ts';
import { serviceLogger } from '../services/logging/logger.ts';

/**
 * `flow.run_finished` in the trading database's outbox once a run has ended in the orchestration
 * database (a second database, so not in the same transaction): the id is derived from the run and
 * its end, so a worker that publishes it again after a crash stores it once. A failure to publish
 * is logged, not thrown: the run's own record is already committed.
 */
export async function publishFlowRunFinished(
  events: Queryable,
  run: { runId: number; flowName: string; state: 'completed' | 'failed' | 'cancelled'; durationMs?: number | undefined; error?: string | undefined; correlationId: string },
): Promise<void> {
  try {
    await publishEvent(events, {
      type: 'flow.run_finished',
      aggregate: { type: 'flow_run', id: String(run.runId) },
      payload: { runId: run.runId, flowName: run.flowName, state: run.state, durationMs: run.durationMs, error: run.error },
      eventId: deterministicEventId(`flow.run_finished:${run.runId}:${run.state}`),
      correlationId: run.correlationId,
    });
  } catch (error) {
    serviceLogger('orchestration').warn({ err: error, flowRunId: run.runId }, `flow run ${run.runId} ended, but its flow.run_finished event was not published: ${(error as Error).message}`);
  }
}
