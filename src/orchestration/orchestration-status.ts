import type { Queryable } from '../db/queryable.ts';

/** The worker side of `tradedb status`: who is alive, what waits, what failed, how old the last backup is. */
export interface OrchestrationStatus {
  workers: Array<{ workerId: string; hostname: string; pid: number; heartbeatAgeSeconds: number }>;
  /** graphile-worker's queue; null before any worker or `flows run` installed it. */
  jobs: { waiting: number; locked: number; failedFinally: number } | null;
  runs: { running: number; retrying: number; failedLastDay: number };
  lastBackup: { file: string; ageHours: number; verification: string | null } | null;
}

/** Reads orchestration health from the orchestration database (its owner's pool). */
export async function collectOrchestrationStatus(db: Queryable): Promise<OrchestrationStatus> {
  const { rows: workers } = await db.query<OrchestrationStatus['workers'][number]>(
    `SELECT worker_id AS "workerId", hostname, pid, round(extract(epoch FROM now() - heartbeat_at))::int AS "heartbeatAgeSeconds"
       FROM orchestration.workers ORDER BY hostname, pid, worker_id`,
  );
  const { rows: installed } = await db.query<{ present: boolean }>("SELECT to_regclass('graphile_worker.jobs') IS NOT NULL AS present");
  let jobs: OrchestrationStatus['jobs'] = null;
  if (installed[0]!.present) {
    const { rows } = await db.query<{ waiting: number; locked: number; failed: number }>(
      `SELECT count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts)::int AS waiting,
              count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS locked,
              count(*) FILTER (WHERE locked_at IS NULL AND attempts >= max_attempts)::int AS failed
         FROM graphile_worker.jobs`,
    );
    jobs = { waiting: rows[0]!.waiting, locked: rows[0]!.locked, failedFinally: rows[0]!.failed };
  }
  const { rows: runs } = await db.query<OrchestrationStatus['runs']>(
    `SELECT count(*) FILTER (WHERE state = 'running')::int AS running, count(*) FILTER (WHERE state = 'retrying')::int AS retrying,
            count(*) FILTER (WHERE state = 'failed' AND ended_at > now() - interval '1 day')::int AS "failedLastDay"
       FROM orchestration.flow_runs`,
  );
  const { rows: backups } = await db.query<NonNullable<OrchestrationStatus['lastBackup']>>(
    `SELECT file, round((extract(epoch FROM now() - started_at) / 3600)::numeric, 1)::float8 AS "ageHours", verification
       FROM orchestration.backups WHERE pruned_at IS NULL ORDER BY started_at DESC LIMIT 1`,
  );
  return { workers, jobs, runs: runs[0]!, lastBackup: backups[0] ?? null };
}

export function formatOrchestrationStatus(status: OrchestrationStatus): string {
  const lines = [
    `Workers       ${status.workers.length === 0 ? 'none running (npm start or tradedb worker runs one)' : status.workers.map((worker) => `${worker.hostname}:${worker.pid} ${worker.workerId} (heartbeat ${worker.heartbeatAgeSeconds} s ago)`).join('\n              ')}`,
    `Jobs          ${status.jobs ? `${status.jobs.waiting} waiting, ${status.jobs.locked} running, ${status.jobs.failedFinally} failed for good` : 'queue not installed yet'}`,
    `Flow runs     ${status.runs.running} running, ${status.runs.retrying} retrying, ${status.runs.failedLastDay} failed in the last day (tradedb flows runs)`,
    `Last backup   ${status.lastBackup ? `${status.lastBackup.file}, ${status.lastBackup.ageHours} h ago, ${status.lastBackup.verification === null ? 'never verified' : status.lastBackup.verification === 'ok' ? 'verified' : 'VERIFICATION FAILED'}` : 'none (tradedb backup)'}`,
  ];
  return lines.join('\n');
}
