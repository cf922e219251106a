import type { Queryable } from '../db/queryable.ts';
import type { BackupManifest } from './backup-manifest.ts';

/** A row of orchestration.backups. */
export interface BackupRecord {
  id: number;
  file: string;
  databaseName: string;
  schemas: string[];
  sha256: string;
  sizeBytes: number;
  totalRows: number;
  startedAt: Date;
  durationMs: number;
  verifiedAt: Date | null;
  verification: string | null;
  prunedAt: Date | null;
}

const COLUMNS = `id, file, database_name AS "databaseName", schemas, sha256, size_bytes::float8 AS "sizeBytes", total_rows::float8 AS "totalRows",
  started_at AS "startedAt", duration_ms::float8 AS "durationMs", verified_at AS "verifiedAt", verification, pruned_at AS "prunedAt"`;

/** The catalogue of backups in the orchestration database: one row per file written. */
export class BackupCatalog {
  constructor(private readonly db: Queryable) {}

  async record(file: string, manifest: BackupManifest, flowRunId?: number): Promise<BackupRecord> {
    const { rows } = await this.db.query<BackupRecord>(
      `INSERT INTO orchestration.backups (file, database_name, schemas, sha256, size_bytes, total_rows, server_version, tool_version, started_at, duration_ms, flow_run_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       RETURNING ${COLUMNS}`,
      [file, manifest.database, manifest.schemas, manifest.sha256, manifest.sizeBytes, manifest.totalRows, manifest.serverVersion, manifest.pgDumpVersion, manifest.startedAt, manifest.durationMs, flowRunId ?? null],
    );
    return rows[0]!;
  }

  /** Newest first; pruned ones only when asked. */
  async list(options: { includePruned?: boolean; limit?: number } = {}): Promise<BackupRecord[]> {
    const { rows } = await this.db.query<BackupRecord>(
      `SELECT ${COLUMNS} FROM orchestration.backups WHERE $1 OR pruned_at IS NULL ORDER BY started_at DESC, id DESC LIMIT $2`,
      [options.includePruned ?? false, options.limit ?? 100],
    );
    return rows;
  }

  async markVerified(file: string, outcome: string): Promise<void> {
    await this.db.query('UPDATE orchestration.backups SET verified_at = now(), verification = $2 WHERE file = $1', [file, outcome]);
  }

  async markPruned(files: string[]): Promise<void> {
    if (files.length > 0) await this.db.query('UPDATE orchestration.backups SET pruned_at = now() WHERE file = ANY($1) AND pruned_at IS NULL', [files]);
  }
}
