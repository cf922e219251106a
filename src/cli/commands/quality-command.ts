import type { Command } from 'commander';
import { qualityLogRepository } from '../../services/data-ingestion/quality-log-repository.ts';
import { ingestionRunRepository } from '../../services/data-ingestion/ingestion-run-repository.ts';
import { withServicePools } from '../database-session.ts';
import { formatTable } from '../output-table.ts';
import { parseWholeNumber } from '../option-parsers.ts';

export function registerQualityCommand(program: Command): void {
  program
    .command('quality')
    .description('the rows an ingestion run rejected, with line number, rule and detail (from data_quality_logs)')
    .requiredOption('--run <id>', 'ingestion run id (printed by tradedb ingest)', parseWholeNumber)
    .option('--json', 'print JSON')
    .action(async (options: { run: number; json?: boolean }) => {
      const found = await withServicePools(async (pools) => {
        const pool = pools.services.data_ingestion;
        const run = await ingestionRunRepository.find(pool, options.run);
        return run && { run, issues: await qualityLogRepository.forRun(pool, options.run) };
      });
      if (!found) {
        console.error(`tradedb: there is no ingestion run ${options.run}`);
        process.exitCode = 1;
        return;
      }
      if (options.json) {
        console.log(JSON.stringify(found, null, 2));
        return;
      }
      const { run, issues } = found;
      console.log(`run ${run.id} (${run.source}, ${run.interval ?? '-'}) ${run.status}: read ${run.read}, inserted ${run.inserted}, updated ${run.updated}, unchanged ${run.unchanged}, rejected ${run.rejected}${run.error ? `\nerror: ${run.error}` : ''}`);
      if (issues.length > 0) console.log(formatTable(['LINE', 'RULE', 'SYMBOL', 'DETAIL'], issues.map((issue) => [issue.lineNumber, issue.rule, issue.symbol, issue.detail])));
    });
}
