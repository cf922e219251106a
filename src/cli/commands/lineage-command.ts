import type { Command } from 'commander';
import { barLineage, companyLineage, formatLineage, holderLineage, statisticsLineage, tradeLineage, type Lineage } from '../../ops/lineage.ts';
import { withServicePools } from '../database-session.ts';
import { parseCalendarDate, parseInstant, parseInterval, parseWholeNumber } from '../option-parsers.ts';

function print(lineage: Lineage, json: boolean | undefined): void {
  console.log(json ? JSON.stringify(lineage, null, 2) : formatLineage(lineage));
}

/** `tradedb lineage bar|trade`: where a row came from. */
export function registerLineageCommand(program: Command): void {
  const lineage = program
    .command('lineage')
    .description('where a row came from: a bar, key statistics, a holder or a company profile and the ingestion run that wrote it; a trade, its order, signal and strategy');
  lineage
    .command('bar <symbol>')
    .description('a bar and the ingestion run that wrote it (source, parameters, counters, rejected rows)')
    .requiredOption('--at <time>', 'the bar\'s start: a date (daily bars) or an ISO time with its offset', parseInstant)
    .option('--interval <interval>', 'bar interval', parseInterval, '1d')
    .option('--source <name>', 'one source, when several provide the bar')
    .option('--json', 'print JSON')
    .action(async (symbol: string, options: { at: Date; interval: string; source?: string; json?: boolean }) => {
      print(await withServicePools((pools) => barLineage(pools.services.data_ingestion, { symbol, interval: options.interval, at: options.at, source: options.source })), options.json);
    });
  lineage
    .command('statistics <symbol>')
    .description("a symbol's key statistics of one day and the ingestion run that wrote them")
    .requiredOption('--as-of <date>', 'the day of the snapshot (YYYY-MM-DD)', parseCalendarDate)
    .option('--json', 'print JSON')
    .action(async (symbol: string, options: { asOf: string; json?: boolean }) => {
      print(await withServicePools((pools) => statisticsLineage(pools.services.data_ingestion, symbol, options.asOf)), options.json);
    });
  lineage
    .command('holder <symbol>')
    .description("one holder's line of a holders report and the ingestion run that wrote it")
    .requiredOption('--report-date <date>', 'the date of the report (YYYY-MM-DD)', parseCalendarDate)
    .requiredOption('--holder <name>', "the holder's name, as the provider gave it")
    .option('--json', 'print JSON')
    .action(async (symbol: string, options: { reportDate: string; holder: string; json?: boolean }) => {
      print(await withServicePools((pools) => holderLineage(pools.services.data_ingestion, symbol, options.reportDate, options.holder)), options.json);
    });
  lineage
    .command('company <symbol>')
    .description("a symbol's company profile and the ingestion run that wrote it last")
    .option('--json', 'print JSON')
    .action(async (symbol: string, options: { json?: boolean }) => {
      print(await withServicePools((pools) => companyLineage(pools.services.data_ingestion, symbol)), options.json);
    });
  lineage
    .command('trade')
    .argument('<id>', 'trade id (tradedb orders list shows them per order)', parseWholeNumber)
    .description('a trade, its order with every state change and the events it published, the signal and strategy behind it')
    .requiredOption('--account <id>', 'account')
    .option('--json', 'print JSON')
    .action(async (tradeId: number, options: { account: string; json?: boolean }) => {
      print(await withServicePools((pools) => tradeLineage(pools.services.execution, options.account, tradeId)), options.json);
    });
}
