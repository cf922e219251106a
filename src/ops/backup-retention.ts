import { readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { manifestPathOf, readManifest } from './backup-manifest.ts';

/** A backup as retention sees it. */
export interface DatedBackup {
  file: string;
  startedAt: Date;
}

/**
 * Which backups to keep, as restic's --keep-daily/--keep-weekly do it: the newest backup of each of
 * the `keepDaily` most recent UTC days that have one, and the newest of each of the `keepWeekly`
 * most recent ISO weeks that have one. Everything else may go.
 */
export function backupsToKeep(backups: DatedBackup[], keepDaily: number, keepWeekly: number): Set<string> {
  const newestFirst = [...backups].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  return new Set([...newestPerPeriod(newestFirst, dayKey, keepDaily), ...newestPerPeriod(newestFirst, isoWeekKey, keepWeekly)]);
}

function newestPerPeriod(newestFirst: DatedBackup[], period: (date: Date) => string, count: number): string[] {
  const seen = new Map<string, string>();
  for (const backup of newestFirst) {
    const key = period(backup.startedAt);
    if (seen.has(key)) continue;
    if (seen.size === count) break;
    seen.set(key, backup.file);
  }
  return [...seen.values()];
}

function dayKey(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** ISO 8601 week, e.g. "2026-W48" (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeekKey(date: Date): string {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Backups of the same database and schemas form one series; retention counts within it. */
export interface BackupSeries {
  database: string;
  schemas: string[];
}

function sameSeries(a: BackupSeries, b: BackupSeries): boolean {
  return a.database === b.database && [...a.schemas].sort().join(',') === [...b.schemas].sort().join(',');
}

/**
 * Applies retention to the finished backups (those with a manifest) of one series in `directory`:
 * deletes every file backupsToKeep does not keep, with its manifest. Returns the deleted files' paths.
 */
export function pruneBackups(directory: string, series: BackupSeries, keepDaily: number, keepWeekly: number): string[] {
  const backups = readdirSync(directory)
    .filter((name) => name.endsWith('.dump'))
    .map((name) => path.join(directory, name))
    .flatMap((file) => {
      try {
        const manifest = readManifest(file);
        return sameSeries(manifest, series) ? [{ file, startedAt: new Date(manifest.startedAt) }] : [];
      } catch {
        // No readable manifest: not a finished tradedb backup, so not retention's to delete.
        return [];
      }
    });
  const keep = backupsToKeep(backups, keepDaily, keepWeekly);
  const pruned = backups.filter((backup) => !keep.has(backup.file)).map((backup) => backup.file);
  for (const file of pruned) {
    unlinkSync(file);
    unlinkSync(manifestPathOf(file));
  }
  return pruned;
}
