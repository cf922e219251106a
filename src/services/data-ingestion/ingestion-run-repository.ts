import type { Queryable } from '../../db/queryable.ts';

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled';

/** How much of a run one committed batch adds. */
export interface RunProgress {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
}

export interface IngestionRunRow extends RunProgress {
  id: number;
  source: string;
  interval: string | null;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  error: string | null;
  parameters: Record<string, unknown>;
  startedBy: string;
}

/** SQL for data_ingestion.ingestion_runs: one row per load, its counters moving with each batch. */
export const ingestionRunRepository = {
  async start(db: Queryable, run: { source: string; interval: string | null; parameters: Record<string, unknown>; startedBy?: string }): Promise<number> {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO data_ingestion.ingestion_runs (source, interval, parameters, started_by)
       VALUES ($1, $2, $3, coalesce($4, current_user)) RETURNING id`,
      [run.source, run.interval, JSON.stringify(run.parameters), run.startedBy ?? null],
    );
    return Number(rows[0]!.id);
  },

  async addProgress(db: Queryable, runId: number, progress: RunProgress): Promise<void> {
    await db.query(
      `UPDATE data_ingestion.ingestion_runs
          SET rows_read = rows_read + $2, rows_inserted = rows_inserted + $3, rows_updated = rows_updated + $4,
              rows_unchanged = rows_unchanged + $5, rows_rejected = rows_rejected + $6
        WHERE id = $1`,
      [runId, progress.read, progress.inserted, progress.updated, progress.unchanged, progress.rejected],
    );
  },

  async finish(db: Queryable, runId: number, status: Exclude<RunStatus, 'running'>, error: string | null): Promise<void> {
    await db.query(
      `UPDATE data_ingestion.ingestion_runs SET status = $2, error = $3, finished_at = greatest(now(), started_at) WHERE id = $1`,
      [runId, status, error],
    );
  },

  async find(db: Queryable, runId: number): Promise<IngestionRunRow | undefined> {
    const { rows } = await db.query<IngestionRunRow>(
      `SELECT id::float8 AS id, source, interval, status, started_at AS "startedAt", finished_at AS "finishedAt",
              rows_read::float8 AS read, rows_inserted::float8 AS inserted, rows_updated::float8 AS updated,
              rows_unchanged::float8 AS unchanged, rows_rejected::float8 AS rejected, error, parameters,
              started_by AS "startedBy"
         FROM data_ingestion.ingestion_runs WHERE id = $1`,
      [runId],
    );
    return rows[0];
  },
};
