import os from 'node:os';
import { makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import type pg from 'pg';
import { FlowRunRepository } from './flow-run-repository.ts';

/**
 * This process's rows in orchestration.workers, their heartbeat, and the sweep that finds
 * workers of any process whose heartbeat stopped (killed, host lost): their locked jobs are
 * unlocked for the living (graphile-worker itself would wait 4 hours) and their running attempts
 * are recorded as failed, so the retry shows as the next attempt.
 */
export class WorkerRegistry {
  private readonly own = new Set<string>();
  /** Every id this process ever had, so that stop() removes them all (a heartbeat in flight may re-insert a released one). */
  private readonly everOwned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private utils: WorkerUtils | undefined;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { heartbeatMs: number; staleAfterMs: number; log: (line: string) => void },
  ) {}

  async start(): Promise<void> {
    this.utils = await makeWorkerUtils({ pgPool: this.pool });
    await this.sweep();
    this.timer = setInterval(() => {
      this.beating = this.beat().catch((error: Error) => this.options.log(`worker heartbeat: ${error.message} (will retry)`));
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  register(workerId: string): void {
    this.own.add(workerId);
    this.everOwned.add(workerId);
    this.pool
      .query(
        `INSERT INTO orchestration.workers (worker_id, hostname, pid) VALUES ($1, $2, $3)
         ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()`,
        [workerId, os.hostname(), process.pid],
      )
      .catch((error: Error) => this.options.log(`worker registration: ${error.message} (the next heartbeat retries)`));
  }

  /**
   * Makes sure `workerId` has its row before its job is recorded as running: the row written at
   * pool creation is asynchronous, and a worker killed before it lands would hold its job unseen.
   */
  async ensure(workerId: string): Promise<void> {
    if (!this.own.has(workerId)) this.register(workerId);
    await this.pool.query(
      `INSERT INTO orchestration.workers (worker_id, hostname, pid) VALUES ($1, $2, $3)
       ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()`,
      [workerId, os.hostname(), process.pid],
    );
  }

  /** Stops renewing `workerId`; its row goes when the registry stops. */
  unregister(workerId: string): void {
    this.own.delete(workerId);
  }

  ids(): string[] {
    return [...this.own];
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    if (this.everOwned.size > 0) {
      await this.pool
        .query('DELETE FROM orchestration.workers WHERE worker_id = ANY($1)', [[...this.everOwned]])
        .catch((error: Error) => this.options.log(`worker rows not removed (${error.message}); other workers will sweep them as dead`));
    }
    await this.utils?.release();
  }

  private async beat(): Promise<void> {
    if (this.own.size > 0) {
      await this.pool.query(
        `INSERT INTO orchestration.workers (worker_id, hostname, pid) SELECT unnest($1::text[]), $2, $3
         ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()`,
        [[...this.own], os.hostname(), process.pid],
      );
    }
    await this.sweep();
  }

  /**
   * Unlocks the jobs of dead workers and fails their attempts; their rows go. Dead: a heartbeat
   * older than the threshold, or a lock that old held by an id no worker ever registered.
   */
  private async sweep(): Promise<void> {
    const { rows } = await this.pool.query<{ worker_id: string }>(
      `SELECT worker_id FROM orchestration.workers
        WHERE heartbeat_at < now() - make_interval(secs => $1 / 1000.0) AND NOT worker_id = ANY($2)
       UNION
       SELECT DISTINCT j.locked_by FROM graphile_worker.jobs j
        WHERE j.locked_by IS NOT NULL AND j.locked_at < now() - make_interval(secs => $1 / 1000.0)
          AND NOT j.locked_by = ANY($2) AND NOT EXISTS (SELECT FROM orchestration.workers w WHERE w.worker_id = j.locked_by)`,
      [this.options.staleAfterMs, [...this.own]],
    );
    if (rows.length === 0) return;
    const dead = rows.map((row) => row.worker_id);
    await this.utils!.forceUnlockWorkers(dead);
    const runs = await new FlowRunRepository(this.pool).failAttemptsOf(dead, `worker ${dead.join(', ')} stopped (no heartbeat for over ${Math.round(this.options.staleAfterMs / 1000)} s): killed or its host lost`);
    await this.pool.query('DELETE FROM orchestration.workers WHERE worker_id = ANY($1)', [dead]);
    this.options.log(`workers ${dead.join(', ')} stopped heartbeating: their jobs were unlocked${runs.length > 0 ? `, runs ${runs.join(', ')} will retry` : ''}`);
  }
}
