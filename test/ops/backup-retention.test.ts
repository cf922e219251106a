import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFEST_FORMAT, manifestPathOf } from '../../src/ops/backup-manifest.ts';
import { backupsToKeep, isoWeekKey, pruneBackups } from '../../src/ops/backup-retention.ts';
import { findClientTool } from '../../src/ops/client-tools.ts';

const at = (iso: string) => ({ file: iso, startedAt: new Date(iso) });

describe('backup retention (keep the newest of each of N days and of each of M ISO weeks)', () => {
  it('ISO weeks start on Monday, and the first week of a year holds its first Thursday', () => {
    expect(isoWeekKey(new Date('2026-11-22T23:59:59Z'))).toBe('2026-W47'); // a Sunday
    expect(isoWeekKey(new Date('2026-11-23T00:00:00Z'))).toBe('2026-W48'); // the Monday after
    expect(isoWeekKey(new Date('2027-01-01T12:00:00Z'))).toBe('2026-W53'); // a Friday: still 2026's last week
    expect(isoWeekKey(new Date('2025-12-29T00:00:00Z'))).toBe('2026-W01'); // Monday of the week of 1 Jan 2026 (a Thursday)
  });

  it('keeps exactly the right backups', () => {
    const backups = [
      // Sunday weekly backups of five weeks...
      '2026-10-25T04:00:00Z', '2026-11-01T04:00:00Z', '2026-11-08T04:00:00Z', '2026-11-15T04:00:00Z', '2026-11-22T04:00:00Z',
      // ...and daily ones of the last days, two on the 24th.
      '2026-11-20T22:30:00Z', '2026-11-21T22:30:00Z', '2026-11-23T22:30:00Z', '2026-11-24T08:00:00Z', '2026-11-24T22:30:00Z',
    ].map(at);
    const kept = [...backupsToKeep(backups, 3, 2)].sort();
    // Days: the 24th (its newest), the 23rd, the 22nd. Weeks: W48 (newest: 24th 22:30) and W47 (newest: the 22nd).
    expect(kept).toEqual(['2026-11-22T04:00:00Z', '2026-11-23T22:30:00Z', '2026-11-24T22:30:00Z']);
    const weekly = [...backupsToKeep(backups, 1, 4)].sort();
    // W48 → 24th 22:30; W47 → 22nd; W46 → 15th; W45 → 8th. (W44's 1 Nov and W43's 25 Oct go.)
    expect(weekly).toEqual(['2026-11-08T04:00:00Z', '2026-11-15T04:00:00Z', '2026-11-22T04:00:00Z', '2026-11-24T22:30:00Z']);
    expect(backupsToKeep([], 7, 4).size).toBe(0);
  });

  it('prunes files and manifests of one series only, and never a file without a manifest', () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'tradedb-retention-'));
    const write = (name: string, startedAt: string, schemas: string[], database = 'trading_system') => {
      const file = path.join(directory, name);
      writeFileSync(file, 'dump');
      writeFileSync(manifestPathOf(file), JSON.stringify({ format: MANIFEST_FORMAT, file: name, database, schemas, startedAt }));
    };
    write('a.dump', '2026-11-20T10:00:00Z', ['analytics', 'data_ingestion']);
    write('b.dump', '2026-11-21T10:00:00Z', ['data_ingestion', 'analytics']);
    write('c.dump', '2026-11-22T10:00:00Z', ['analytics', 'data_ingestion']);
    write('other-schemas.dump', '2026-11-01T10:00:00Z', ['execution']);
    write('other-database.dump', '2026-11-01T10:00:00Z', ['analytics', 'data_ingestion'], 'orchestration');
    writeFileSync(path.join(directory, 'copied-in.dump'), 'no manifest');

    const pruned = pruneBackups(directory, { database: 'trading_system', schemas: ['data_ingestion', 'analytics'] }, 2, 1);
    expect(pruned.map((file) => path.basename(file))).toEqual(['a.dump']);
    expect(readdirSync(directory).sort()).toEqual(
      ['b.dump', 'b.manifest.json', 'c.dump', 'c.manifest.json', 'copied-in.dump', 'other-database.dump', 'other-database.manifest.json', 'other-schemas.dump', 'other-schemas.manifest.json'].sort(),
    );
  });
});

describe('finding pg_dump and pg_restore', () => {
  it('says which package to install when the tool is missing or older than the server', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'tradedb-nobin-'));
    await expect(findClientTool('pg_dump', 15, undefined, [empty])).rejects.toThrow(/pg_dump was not found.*apt-get install postgresql-client-15/);

    const old = mkdtempSync(path.join(os.tmpdir(), 'tradedb-oldbin-'));
    writeFileSync(path.join(old, 'pg_restore'), '#!/bin/sh\necho "pg_restore (PostgreSQL) 13.4"\n');
    chmodSync(path.join(old, 'pg_restore'), 0o755);
    await expect(findClientTool('pg_restore', 15, old, [])).rejects.toThrow(/version 13\.4, older than the server \(PostgreSQL 15\).*apt-get install postgresql-client-15/);
    await expect(findClientTool('pg_restore', 13, old, [])).resolves.toMatchObject({ version: '13.4', major: 13 });
  });
});
