import type { Queryable } from '../db/queryable.ts';

export const FLOW_RUN_STATES = ['scheduled', 'running', 'completed', 'failed', 'retrying', 'cancelled'] as const;
export type FlowRunState = (typeof FLOW_RUN_STATES)[number];
export type FlowTrigger = 'schedule' | 'backfill' | 'manual';

/** A row of orchestration.flow_runs. */
export interface FlowRunRow {
  id: number;
  flowName: string;
  parameters: Record<string, unknown>;
  trigger: FlowTrigger;
  scheduledFor: Date | null;
  state: FlowRunState;
  attempts: number;
  maxAttempts: number;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  durationMs: number | null;
  result: unknown;
  error: string | null;
  correlationId: string;
}

export interface FlowRunAttemptRow {
  attempt: number;
  workerId: string;
  state: 'running' | 'completed' | 'failed';
  startedAt: Date;
  endedAt: Date | null;
  error: string | null;
}

export interface TaskRunRow {
  attempt: number;
  taskName: string;
  parameters: Record<string, unknown>;
  state: 'running' | 'completed' | 'failed';
  durationMs: number | null;
  result: unknown;
  error: string | null;
}

const RUN_COLUMNS = `id::int, flow_name AS "flowName", parameters, trigger, scheduled_for AS "scheduledFor", state, attempts, max_attempts AS "maxAttempts",
  created_at AS "createdAt", started_at AS "startedAt", ended_at AS "endedAt", duration_ms::float8 AS "durationMs", result, error, correlation_id AS "correlationId"`;

/** Flow run history in the orchestration database: runs, their attempts, their tasks. */
export class FlowRunRepository {
  constructor(private readonly db: Queryable) {}

  /** A run asked for by hand, waiting for its job. */
  async createManual(flowName: string, parameters: Record<string, unknown>, maxAttempts: number): Promise<FlowRunRow> {
    const { rows } = await this.db.query<FlowRunRow>(
      `INSERT INTO orchestration.flow_runs (flow_name, parameters, trigger, max_attempts) VALUES ($1, $2, 'manual', $3) RETURNING ${RUN_COLUMNS}`,
      [flowName, parameters, maxAttempts],
    );
    return rows[0]!;
  }

  async setJob(runId: number, jobId: string): Promise<void> {
    await this.db.query('UPDATE orchestration.flow_runs SET job_id = $2 WHERE id = $1', [runId, jobId]);
  }

  /** The run a scheduled job is for: one per flow and cron time, whichever attempt asks. */
  async forSchedule(flowName: string, scheduledFor: Date, backfilled: boolean, parameters: Record<string, unknown>, maxAttempts: number): Promise<FlowRunRow> {
    const { rows } = await this.db.query<FlowRunRow>(
      `INSERT INTO orchestration.flow_runs (flow_name, parameters, trigger, scheduled_for, max_attempts)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (flow_name, scheduled_for) DO UPDATE SET flow_name = EXCLUDED.flow_name
       RETURNING ${RUN_COLUMNS}`,
      [flowName, parameters, backfilled ? 'backfill' : 'schedule', scheduledFor, maxAttempts],
    );
    return rows[0]!;
  }

  /** Attempt `attempt` of a run begins on `workerId`. */
  async startAttempt(runId: number, attempt: number, workerId: string, jobId: string): Promise<FlowRunRow> {
    await this.db.query(
      `INSERT INTO orchestration.flow_run_attempts (flow_run_id, attempt, worker_id, state) VALUES ($1, $2, $3, 'running')
       ON CONFLICT (flow_run_id, attempt) DO UPDATE SET worker_id = EXCLUDED.worker_id, state = 'running', started_at = now(), ended_at = NULL, error = NULL`,
      [runId, attempt, workerId],
    );
    const { rows } = await this.db.query<FlowRunRow>(
      `UPDATE orchestration.flow_runs SET state = 'running', attempts = $2, job_id = $3, started_at = coalesce(started_at, now()), error = NULL
        WHERE id = $1 RETURNING ${RUN_COLUMNS}`,
      [runId, attempt, jobId],
    );
    return rows[0]!;
  }

  async complete(runId: number, attempt: number, result: unknown): Promise<void> {
    await this.endAttempt(runId, attempt, 'completed', null);
    await this.db.query(
      `UPDATE orchestration.flow_runs SET state = 'completed', result = $2, ended_at = now(),
              duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint WHERE id = $1`,
      [runId, JSON.stringify(result ?? null)],
    );
  }

  /** A failed attempt: the run is `retrying` if attempts remain, else `failed`. */
  async fail(runId: number, attempt: number, error: string, final: boolean): Promise<void> {
    await this.endAttempt(runId, attempt, 'failed', error);
    await this.db.query(
      `UPDATE orchestration.flow_runs SET state = $2, error = $3,
              ended_at = CASE WHEN $4 THEN now() END,
              duration_ms = CASE WHEN $4 THEN (extract(epoch FROM now() - started_at) * 1000)::bigint END
        WHERE id = $1`,
      [runId, final ? 'failed' : 'retrying', error, final],
    );
  }

  private async endAttempt(runId: number, attempt: number, state: 'completed' | 'failed', error: string | null): Promise<void> {
    await this.db.query('UPDATE orchestration.flow_run_attempts SET state = $3, ended_at = now(), error = $4 WHERE flow_run_id = $1 AND attempt = $2', [runId, attempt, state, error]);
  }

  /**
   * Marks every attempt still running on one of `workerIds` (dead workers) as failed, and its run
   * as retrying (or failed when it had no attempt left). Returns the runs touched.
   */
  async failAttemptsOf(workerIds: string[], reason: string): Promise<number[]> {
    const { rows } = await this.db.query<{ id: number }>(
      `WITH lost AS (
         UPDATE orchestration.flow_run_attempts SET state = 'failed', ended_at = now(), error = $2
          WHERE worker_id = ANY($1) AND state = 'running'
          RETURNING flow_run_id
       )
       UPDATE orchestration.flow_runs r
          SET state = CASE WHEN r.attempts >= r.max_attempts THEN 'failed' ELSE 'retrying' END, error = $2,
              ended_at = CASE WHEN r.attempts >= r.max_attempts THEN now() END
        WHERE r.id IN (SELECT flow_run_id FROM lost) AND r.state = 'running'
        RETURNING r.id::int`,
      [workerIds, reason],
    );
    return rows.map((row) => row.id);
  }

  async startTask(runId: number, attempt: number, taskName: string, parameters: Record<string, unknown>): Promise<number> {
    const { rows } = await this.db.query<{ id: number }>(
      `INSERT INTO orchestration.task_runs (flow_run_id, attempt, task_name, parameters, state) VALUES ($1, $2, $3, $4, 'running') RETURNING id::int`,
      [runId, attempt, taskName, parameters],
    );
    return rows[0]!.id;
  }

  async endTask(taskId: number, outcome: { result?: unknown; error?: string }): Promise<void> {
    await this.db.query(
      `UPDATE orchestration.task_runs SET state = $2, result = $3, error = $4, ended_at = now(),
              duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint WHERE id = $1`,
      [taskId, outcome.error === undefined ? 'completed' : 'failed', JSON.stringify(outcome.result ?? null), outcome.error ?? null],
    );
  }

  async get(runId: number): Promise<FlowRunRow | undefined> {
    const { rows } = await this.db.query<FlowRunRow>(`SELECT ${RUN_COLUMNS} FROM orchestration.flow_runs WHERE id = $1`, [runId]);
    return rows[0];
  }

  /** Newest first, optionally one flow or one state. */
  async list(filter: { flowName?: string | undefined; state?: FlowRunState | undefined; limit?: number } = {}): Promise<FlowRunRow[]> {
    const { rows } = await this.db.query<FlowRunRow>(
      `SELECT ${RUN_COLUMNS} FROM orchestration.flow_runs
        WHERE ($1::text IS NULL OR flow_name = $1) AND ($2::text IS NULL OR state = $2)
        ORDER BY created_at DESC, id DESC LIMIT $3`,
      [filter.flowName ?? null, filter.state ?? null, filter.limit ?? 50],
    );
    return rows;
  }

  async attempts(runId: number): Promise<FlowRunAttemptRow[]> {
    const { rows } = await this.db.query<FlowRunAttemptRow>(
      `SELECT attempt, worker_id AS "workerId", state, started_at AS "startedAt", ended_at AS "endedAt", error
         FROM orchestration.flow_run_attempts WHERE flow_run_id = $1 ORDER BY attempt`,
      [runId],
    );
    return rows;
  }

  async tasks(runId: number): Promise<TaskRunRow[]> {
    const { rows } = await this.db.query<TaskRunRow>(
      `SELECT attempt, task_name AS "taskName", parameters, state, duration_ms::float8 AS "durationMs", result, error
         FROM orchestration.task_runs WHERE flow_run_id = $1 ORDER BY attempt, id`,
      [runId],
    );
    return rows;
  }
}
