import { type Command, Option } from 'commander';
import { UserFacingError } from '../../db/errors.ts';
import type { Interval } from '../../services/data-ingestion/interval.ts';
import { barAsJson, barSources, type BarFormat, latestBars, resampleBars, type StoredBar, streamBars } from '../../services/data-ingestion/market-data-reader.ts';
import { normalizeSymbol } from '../../services/data-ingestion/symbol-format.ts';
import { withServicePools } from '../database-session.ts';
import { formatTable } from '../output-table.ts';
import { parseInstant, parseInterval, parseSymbolList } from '../option-parsers.ts';

interface BarsOptions {
  interval: Interval;
  from?: Date;
  to?: Date;
  source?: string;
  format: BarFormat;
  resampleFrom?: Interval;
}

const CSV_HEADER = 'symbol,interval,ts,open,high,low,close,volume,vwap,trade_count,source';

function printBars(bars: StoredBar[], format: BarFormat): void {
  if (format === 'json') {
    for (const bar of bars) console.log(JSON.stringify(barAsJson(bar)));
    return;
  }
  console.log(CSV_HEADER);
  for (const bar of bars) console.log(Object.values(barAsJson(bar)).map((value) => value ?? '').join(','));
}

export function registerBarsCommand(program: Command): void {
  program
    .command('bars [symbol]')
    .description('print a symbol\'s bars as CSV or JSON lines (streamed: any size), resampled, or the latest bar of many symbols')
    .addOption(new Option('--interval <interval>', 'bar interval').argParser(parseInterval).default('1d'))
    .option('--from <time>', 'first bar, inclusive (date or ISO time)', parseInstant)
    .option('--to <time>', 'end, exclusive', parseInstant)
    .option('--source <name>', 'only bars from this source')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json']).default('csv'))
    .option('--resample-from <interval>', 'build --interval bars from stored bars of this smaller interval, e.g. 1m', parseInterval)
    .option('--latest <symbols>', 'the newest bar of each of these symbols (comma-separated) instead of a range', parseSymbolList)
    .addHelpText('after', '\nExamples:\n  tradedb bars AAPL --interval 1d --from 2024-01-01 --to 2024-07-01\n  tradedb bars SYN0001 --interval 1h --resample-from 1m --source synthetic\n  tradedb bars --latest AAPL,MSFT --interval 1d --format json')
    .action(async (symbolText: string | undefined, options: BarsOptions & { latest?: string[] }) => {
      if (options.latest) {
        const bars = await withServicePools((pools) => latestBars(pools.services.data_ingestion, options.latest!, options.interval, options.source));
        if (options.format === 'json') printBars(bars, 'json');
        else console.log(bars.length === 0 ? '(no bars)' : formatTable(['SYMBOL', 'TS', 'OPEN', 'HIGH', 'LOW', 'CLOSE', 'VOLUME', 'SOURCE'], bars.map((bar) => [bar.symbol, bar.ts.toISOString(), bar.open, bar.high, bar.low, bar.close, bar.volume, bar.source])));
        return;
      }
      if (!symbolText) throw new UserFacingError('Name a symbol (tradedb bars AAPL ...) or use --latest AAPL,MSFT.');
      const symbol = normalizeSymbol(symbolText);
      await withServicePools(async (pools) => {
        const pool = pools.services.data_ingestion;
        if (options.resampleFrom) {
          const sources = options.source ? [options.source] : await barSources(pool, [symbol], options.resampleFrom);
          if (sources.length !== 1) {
            throw new UserFacingError(
              sources.length === 0
                ? `${symbol} has no ${options.resampleFrom} bars to resample.`
                : `${symbol} has ${options.resampleFrom} bars from several sources (${sources.join(', ')}); choose one with --source.`,
            );
          }
          const bars = await resampleBars(pool, { symbol, interval: options.resampleFrom, from: options.from, to: options.to, source: sources[0]! }, options.interval);
          printBars(bars, options.format);
          return;
        }
        const written = await streamBars(pool, { symbol, interval: options.interval, from: options.from, to: options.to, source: options.source }, options.format, process.stdout);
        if (written === 0) console.error(`(no ${options.interval} bars of ${symbol} in that range)`);
      });
    });
}
