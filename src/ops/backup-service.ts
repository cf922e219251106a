import path from 'node:path';
import type { Config } from '../config/load-config.ts';
import type { DatabaseConfig } from '../config/database-config.ts';
import type { Queryable } from '../db/queryable.ts';
import { BackupCatalog } from './backup-catalog.ts';
import type { BackupManifest } from './backup-manifest.ts';
import { pruneBackups } from './backup-retention.ts';
import { type BackupOptions, runBackup } from './backup.ts';
import { deterministicEventId } from '../events/event-id.ts';
import { publishEvent } from '../events/event-publisher.ts';
import { serviceLogger } from '../services/logging/logger.ts';

export interface TakenBackup {
  manifests: BackupManifest[];
  /** Files retention deleted after this backup. */
  pruned: string[];
}

/**
 * A backup as `tradedb backup` and the weekly flow take it: the dump files with their manifests,
 * a catalogue row each (orchestration.backups), a `backup.completed` event each (through
 * `events`, a pool of the trading database: any service role may publish), then retention over
 * each file's series (same database and schemas).
 */
export async function takeBackup(
  database: DatabaseConfig,
  settings: Config['backup'],
  orchestration: Queryable,
  options: Omit<BackupOptions, 'directory' | 'clientBinDir'> & { flowRunId?: number | undefined; events?: Queryable | undefined },
): Promise<TakenBackup> {
  const manifests = await runBackup(database, { ...options, directory: settings.directory, clientBinDir: settings.clientBinDir });
  const catalog = new BackupCatalog(orchestration);
  for (const manifest of manifests) {
    await catalog.record(path.join(settings.directory, manifest.file), manifest, options.flowRunId);
    if (options.events) await publishBackupCompleted(options.events, manifest);
  }
  const pruned = manifests.flatMap((manifest) => pruneBackups(settings.directory, manifest, settings.keepDaily, settings.keepWeekly));
  await catalog.markPruned(pruned);
  return { manifests, pruned };
}

/**
 * The event of a finished backup file, with an id derived from the file (published again, it is
 * stored once). The backup itself is done whatever happens here: a failure is logged, not thrown.
 */
async function publishBackupCompleted(events: Queryable, manifest: BackupManifest): Promise<void> {
  try {
    await publishEvent(events, {
      type: 'backup.completed',
      aggregate: { type: 'backup', id: manifest.file },
      payload: { file: manifest.file, database: manifest.database, schemas: manifest.schemas, sizeBytes: manifest.sizeBytes, durationMs: manifest.durationMs },
      eventId: deterministicEventId(`backup.completed:${manifest.file}`),
    });
  } catch (error) {
    serviceLogger('orchestration').warn({ err: error, file: manifest.file }, `backup ${manifest.file} is complete, but its backup.completed event was not published: ${(error as Error).message}`);
  }
}
