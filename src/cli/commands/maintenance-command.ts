import type { Command } from 'commander';
import { type MaintenanceReport, runMaintenance } from '../../ops/maintenance.ts';
import { withOwnerPool } from '../database-session.ts';
import { formatTable, megabytes } from '../output-table.ts';
import { parseWholeNumber } from '../option-parsers.ts';

function formatReport(report: MaintenanceReport): string {
  const verb = (done: string, would: string) => (report.dryRun ? would : done);
  const lines = [
    report.dryRun ? 'DRY RUN: nothing was changed.' : 'maintenance done.',
    `partitions ${verb('created', 'to create')}: ${report.partitionsCreated}`,
    `log partitions ${verb('dropped', 'to drop')}: ${report.partitionsDropped.join(', ') || 'none'}`,
    `intraday bars ${verb('deleted', 'to delete')}: ${report.intradayBarsDeleted}`,
    `abandoned ingestion runs ${verb('closed', 'to close')}: ${report.staleRunsClosed.join(', ') || 'none'}`,
    `tables ${verb('analyzed', 'to analyze')}: ${report.analyzed.join(', ') || 'none'}`,
    'snapshotRows' in report.queryStats ? `pg_stat_statements: ${report.queryStats.snapshotRows} top queries ${verb('snapshotted into logging.query_stat_snapshots', 'to snapshot')}` : `pg_stat_statements: ${report.queryStats.unavailable}`,
  ];
  if (report.bloat.length > 0) lines.push('', 'bloat (dead rows over 20 %):', formatTable(['TABLE', 'LIVE', 'DEAD', 'DEAD SHARE'], report.bloat.map((row) => [row.table, String(row.liveRows), String(row.deadRows), `${(row.deadShare * 100).toFixed(0)} %`])));
  if (report.unusedIndexes.length > 0) lines.push('', 'indexes never scanned since statistics were reset (candidates, not verdicts):', formatTable(['INDEX', 'TABLE', 'SIZE'], report.unusedIndexes.map((row) => [row.index, row.table, megabytes(row.bytes)])));
  lines.push('', 'largest tables:', formatTable(['TABLE', 'TABLE SIZE', 'INDEX SIZE'], report.largestTables.map((row) => [row.table, megabytes(row.tableBytes), megabytes(row.indexBytes)])));
  return lines.join('\n');
}

/** `tradedb maintenance [--dry-run]`: what the nightly flow does, by hand. */
export function registerMaintenanceCommand(program: Command): void {
  program
    .command('maintenance')
    .description('partitions ahead, log retention, abandoned runs closed, ANALYZE where stale, pg_stat_statements snapshot; reports bloat, unused indexes, sizes')
    .option('--dry-run', 'report what would be done and change nothing')
    .option('--months-ahead <n>', 'monthly partitions to keep ready', parseWholeNumber, 3)
    .option('--json', 'print the report as JSON')
    .action(async (options: { dryRun?: boolean; monthsAhead: number; json?: boolean }) => {
      const report = await withOwnerPool((owner, _pools, session) =>
        runMaintenance(owner, { ...session.config.maintenance, dryRun: options.dryRun, monthsAhead: options.monthsAhead }),
      );
      console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
    });
}
