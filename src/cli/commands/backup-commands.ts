import cliProgress from 'cli-progress';
import path from 'node:path';
import { Argument, type Command } from 'commander';
import { UserFacingError } from '../../db/errors.ts';
import { BackupCatalog } from '../../ops/backup-catalog.ts';
import { takeBackup } from '../../ops/backup-service.ts';
import { DEFAULT_BACKUP_SCHEMAS, type BackupProgress } from '../../ops/backup.ts';
import { restoreBackup, verifyBackup } from '../../ops/restore.ts';
import { withServicePools } from '../database-session.ts';
import { abortOnInterrupt } from '../shutdown.ts';
import { formatTable, megabytes } from '../output-table.ts';

/** A bar of tables dumped on a terminal; nothing when stderr is not one or JSON was asked for. */
function backupProgressBar(enabled: boolean): { update(progress: BackupProgress): void; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ format: 'backup {database} [{bar}] {value}/{total} tables {table}', stream: process.stderr, hideCursor: true, barsize: 20 }, cliProgress.Presets.shades_classic);
  let started = '';
  return {
    update(progress) {
      if (started !== progress.database) {
        if (started) bar.stop();
        bar.start(progress.total, 0, { database: progress.database, table: '' });
        started = progress.database;
      }
      bar.update(progress.done, { table: progress.table ?? '' });
    },
    stop: () => bar.stop(),
  };
}

/** `tradedb backup`, `backup verify`, `backups`, `restore`. */
export function registerBackupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description(`dump schemas with pg_dump -Fc into TRADEDB_BACKUP_DIR with a manifest (sha256, rows and checksum per table), then apply retention`)
    .option('--schemas <list>', `comma-separated schemas of the trading database (default: ${DEFAULT_BACKUP_SCHEMAS.join(',')}; schemas they depend on are added)`)
    .option('--all', 'every schema of the trading database, and the orchestration database as a second file')
    .option('--json', 'print the manifests as JSON')
    .addHelpText('after', '\nNeeds pg_dump of the server\'s major version or newer (Debian: apt-get install postgresql-client-15).\nExamples:\n  tradedb backup\n  tradedb backup --schemas execution\n  tradedb backup --all\n  tradedb backup verify')
    .action(async (options: { schemas?: string; all?: boolean; json?: boolean }) => {
      if (options.all && options.schemas) throw new UserFacingError('--all and --schemas exclude each other: --all already takes every schema.');
      const schemas = options.schemas?.split(',').map((schema) => schema.trim()).filter(Boolean);
      if (options.schemas !== undefined && !schemas?.length) throw new UserFacingError('--schemas: give at least one schema name, e.g. --schemas data_ingestion,analytics');
      const interrupt = abortOnInterrupt('stopping pg_dump and removing the partial file');
      const bar = backupProgressBar(!options.json);
      try {
        const taken = await withServicePools((pools, session) =>
          takeBackup(session.server.config, session.config.backup, pools.orchestration, { schemas, all: options.all, events: pools.services.logging, signal: interrupt.signal, onProgress: (progress) => bar.update(progress) }),
        );
        bar.stop();
        if (options.json) {
          console.log(JSON.stringify(taken, null, 2));
          return;
        }
        for (const manifest of taken.manifests) {
          console.log(
            `${manifest.file}: ${manifest.database} (${manifest.schemas.join(', ')}), ${Object.keys(manifest.tables).length} tables, ${manifest.totalRows.toLocaleString('en-US')} rows, ` +
              `${megabytes(manifest.sizeBytes)} in ${(manifest.durationMs / 1000).toFixed(1)} s; sha256 ${manifest.sha256}`,
          );
        }
        if (taken.pruned.length > 0) console.log(`retention removed: ${taken.pruned.map((file) => path.basename(file)).join(', ')}`);
      } finally {
        bar.stop();
        interrupt.release();
      }
    });

  backup
    .command('verify')
    .description('restore a backup into a scratch database, compare every table with the manifest, drop the scratch database')
    .addArgument(new Argument('[file]', 'a .dump file (default: the newest backup in the catalogue)'))
    .option('--json', 'print the result as JSON')
    .action(async (file: string | undefined, options: { json?: boolean }) => {
      const result = await withServicePools(async (pools, session) => {
        const catalog = new BackupCatalog(pools.orchestration);
        const target = file ? path.resolve(file) : (await catalog.list({ limit: 1 }))[0]?.file;
        if (!target) throw new UserFacingError('No backup in the catalogue yet: run `tradedb backup`, or name a file.');
        let verified;
        try {
          verified = await verifyBackup(session.server.config, target, { clientBinDir: session.config.backup.clientBinDir });
        } catch (error) {
          await catalog.markVerified(target, `failed: ${(error as Error).message}`);
          throw error;
        }
        await catalog.markVerified(target, verified.ok ? 'ok' : `failed: ${verified.differences.join('; ')}`);
        return verified;
      });
      if (options.json) console.log(JSON.stringify(result, null, 2));
      else if (result.ok) console.log(`${result.file}: verified — ${result.tables} tables, ${result.rows.toLocaleString('en-US')} rows restored and equal to the manifest (${(result.durationMs / 1000).toFixed(1)} s)`);
      else console.log(`${result.file}: VERIFICATION FAILED\n${result.differences.map((line) => `  ${line}`).join('\n')}`);
      if (!result.ok) process.exitCode = 1;
    });

  program
    .command('backups')
    .description('list the backups in the catalogue, newest first')
    .option('--include-pruned', 'also those retention has deleted')
    .option('--json', 'print JSON')
    .action(async (options: { includePruned?: boolean; json?: boolean }) => {
      const rows = await withServicePools((pools) => new BackupCatalog(pools.orchestration).list({ includePruned: options.includePruned }));
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      const now = Date.now();
      console.log(
        rows.length === 0
          ? '(no backups yet: tradedb backup)'
          : formatTable(
              ['FILE', 'DATABASE', 'SCHEMAS', 'ROWS', 'SIZE', 'AGE', 'VERIFIED', 'PRUNED'],
              rows.map((row) => [
                path.basename(row.file),
                row.databaseName,
                row.schemas.join(','),
                row.totalRows.toLocaleString('en-US'),
                megabytes(row.sizeBytes),
                `${((now - row.startedAt.getTime()) / 3_600_000).toFixed(1)} h`,
                row.verification ? `${row.verification === 'ok' ? 'ok' : 'FAILED'} ${row.verifiedAt?.toISOString().slice(0, 16)}` : '-',
                row.prunedAt ? 'yes' : '',
              ]),
            ),
      );
    });

  program
    .command('restore')
    .description('restore a backup into a new database (checked against its manifest first)')
    .argument('<file>', 'a .dump file written by tradedb backup')
    .requiredOption('--target-db <name>', 'database to create and restore into')
    .option('--force', 'drop --target-db first if it exists (never without this flag)')
    .action(async (file: string, options: { targetDb: string; force?: boolean }) => {
      const result = await withServicePools((_pools, session) => restoreBackup(session.server.config, path.resolve(file), { targetDatabase: options.targetDb, force: options.force, clientBinDir: session.config.backup.clientBinDir }));
      console.log(`restored ${path.basename(file)} (${result.manifest.schemas.join(', ')}; ${result.manifest.totalRows.toLocaleString('en-US')} rows) into database ${result.database} in ${(result.durationMs / 1000).toFixed(1)} s`);
    });
}
