import type pg from 'pg';
import { copyField, copyInto } from '../../db/copy-stream.ts';
import type { Queryable } from '../../db/queryable.ts';
import type { Rejection } from './bar-validator.ts';
import { truncateRaw } from './input-row.ts';

export interface QualityLogRow {
  id: number;
  ingestionRunId: number | null;
  symbol: string | null;
  ts: Date | null;
  rule: string;
  severity: 'info' | 'warning' | 'error';
  detail: string;
  rawInput: string | null;
  lineNumber: number | null;
  createdAt: Date;
}

const COLUMNS = `id::float8 AS id, ingestion_run_id::float8 AS "ingestionRunId", symbol, ts, rule, severity, detail,
  raw_input AS "rawInput", line_number AS "lineNumber", created_at AS "createdAt"`;

/** SQL for data_ingestion.data_quality_logs: the rows a load refused, with their raw text and line. */
export const qualityLogRepository = {
  /** Writes rejections with COPY: a file of a million bad rows must not become a million INSERTs. */
  async insertRejections(client: pg.ClientBase, runId: number, rejections: readonly Rejection[]): Promise<void> {
    if (rejections.length === 0) return;
    const lines = rejections.map(
      (rejection) =>
        `${runId}\t${copyField(rejection.symbol)}\t${rejection.ms === undefined ? '\\N' : new Date(rejection.ms).toISOString()}\t${copyField(rejection.rule)}\terror\t${copyField(rejection.detail)}\t${copyField(truncateRaw(rejection.raw))}\t${rejection.line > 0 ? rejection.line : '\\N'}\n`,
    );
    await copyInto(
      client,
      'COPY data_ingestion.data_quality_logs (ingestion_run_id, symbol, ts, rule, severity, detail, raw_input, line_number) FROM STDIN',
      lines,
    );
  },

  /** A run's issues in line order; the first `limit` of them if given. */
  async forRun(db: Queryable, runId: number, limit?: number): Promise<QualityLogRow[]> {
    const { rows } = await db.query<QualityLogRow>(
      `SELECT ${COLUMNS} FROM data_ingestion.data_quality_logs WHERE ingestion_run_id = $1 ORDER BY line_number, id LIMIT $2`,
      [runId, limit ?? null],
    );
    return rows;
  },

  /** The newest issues of every run, or of one symbol (by id: the primary key index, newest last written). */
  async recent(db: Queryable, options: { symbol?: string | undefined; limit: number }): Promise<QualityLogRow[]> {
    const { rows } = await db.query<QualityLogRow>(
      `SELECT ${COLUMNS} FROM data_ingestion.data_quality_logs WHERE $1::text IS NULL OR symbol = $1 ORDER BY id DESC LIMIT $2`,
      [options.symbol ?? null, options.limit],
    );
    return rows;
  },
};
