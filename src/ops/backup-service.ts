import path from 'node:path';
import type { Config } from '../config/load-config.ts';
import type { DatabaseConfig } from '../config/database-config.ts';
import type { Queryable } from '../db/queryable.ts';
import { BackupCatalog } from './backup-catalog.ts';
import type { BackupManifest } from './backup-manifest.ts';
import { pruneBackups } from './backup-retention.ts';
import { type BackupOptions, runBackup } from './backup.ts';

export interface TakenBackup {
  manifests: BackupManifest[];
  /** Files retention deleted after this backup. */
  pruned: string[];
}

/**
 * A backup as `tradedb backup` and the weekly flow take it: the dump files with their manifests,
 * a catalogue row each (orchestration.backups), then retention over each file's series (same
 * database and schemas).
 */
export async function takeBackup(
  database: DatabaseConfig,
  settings: Config['backup'],
  orchestration: Queryable,
  options: Omit<BackupOptions, 'directory' | 'clientBinDir'> & { flowRunId?: number | undefined },
): Promise<TakenBackup> {
  const manifests = await runBackup(database, { ...options, directory: settings.directory, clientBinDir: settings.clientBinDir });
  const catalog = new BackupCatalog(orchestration);
  for (const manifest of manifests) await catalog.record(path.join(settings.directory, manifest.file), manifest, options.flowRunId);
  const pruned = manifests.flatMap((manifest) => pruneBackups(settings.directory, manifest, settings.keepDaily, settings.keepWeekly));
  await catalog.markPruned(pruned);
  return { manifests, pruned };
}
