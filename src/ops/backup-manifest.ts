import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { UserFacingError } from '../db/errors.ts';
import type { TableFingerprint } from './table-fingerprint.ts';

export const MANIFEST_FORMAT = 'tradedb-backup/1';
/** A dump still being written; renamed to `.dump` only once it and its manifest are complete. */
export const PARTIAL_SUFFIX = '.partial';

/** What a backup file holds, written beside it as <name>.manifest.json. */
export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  /** The dump's file name (same directory). */
  file: string;
  database: string;
  /** The schemas dumped: those asked for and those they depend on. */
  schemas: string[];
  requestedSchemas: string[];
  extensions: string[];
  sha256: string;
  sizeBytes: number;
  /** Per table ("schema.table"): rows and checksum in the dump's snapshot. */
  tables: Record<string, TableFingerprint>;
  totalRows: number;
  serverVersion: string;
  pgDumpVersion: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

export function manifestPathOf(dumpFile: string): string {
  return dumpFile.replace(/\.dump$/, '') + '.manifest.json';
}

/** Writes the manifest atomically (a temporary file renamed over), so it is whole or absent. */
export async function writeManifest(dumpFile: string, manifest: BackupManifest): Promise<void> {
  const target = manifestPathOf(dumpFile);
  await writeFile(`${target}${PARTIAL_SUFFIX}`, `${JSON.stringify(manifest, null, 2)}\n`, { flush: true });
  await rename(`${target}${PARTIAL_SUFFIX}`, target);
}

/** The manifest beside `dumpFile`, or a clear error if it is missing or unreadable. */
export function readManifest(dumpFile: string): BackupManifest {
  const file = manifestPathOf(dumpFile);
  if (!existsSync(file)) {
    throw new UserFacingError(`${dumpFile} has no manifest beside it (${file}): it is not a complete tradedb backup, or the manifest was moved away.`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as BackupManifest;
  } catch (error) {
    throw new UserFacingError(`${file} is not valid JSON (${(error as Error).message}); the backup cannot be checked.`);
  }
  if (manifest.format !== MANIFEST_FORMAT) {
    throw new UserFacingError(`${file} is not a ${MANIFEST_FORMAT} manifest (format: ${JSON.stringify(manifest.format)}).`);
  }
  return manifest;
}

/** sha256 of a file, hex. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
