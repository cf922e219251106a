import { accessSync, constants, existsSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { UserFacingError } from '../../db/errors.ts';
import type { BarProvider } from '../../services/data-ingestion/input-row.ts';
import type { Interval } from '../../services/data-ingestion/interval.ts';
import { ingestBars, type IngestSummary } from '../../services/data-ingestion/ingest-pipeline.ts';
import { CsvProvider } from '../../services/data-ingestion/providers/csv-provider.ts';
import { JsonlProvider } from '../../services/data-ingestion/providers/jsonl-provider.ts';
import { SyntheticProvider } from '../../services/data-ingestion/providers/synthetic-provider.ts';
import { withServicePools } from '../database-session.ts';
import { abortOnInterrupt } from '../shutdown.ts';
import { formatIngestSummary, type IngestProgress, startIngestProgress } from '../ingest-progress.ts';
import { parseColumnMap, parseInstant, parseInterval, parseSymbolList, parseWholeNumber } from '../option-parsers.ts';

interface CommonOptions {
  interval: Interval;
  source?: string;
  createSymbols?: boolean;
  batchSize?: number;
  json?: boolean;
  progress: boolean;
}

/** Exit codes: 0 loaded something or had nothing to do; 1 the load failed or every row was rejected; 130 interrupted. */
function exitCodeOf(summary: IngestSummary): number {
  if (summary.status === 'cancelled') return 130;
  return summary.status === 'failed' ? 1 : 0;
}

function withCommonOptions(command: Command, defaultInterval?: Interval): Command {
  const interval = new Option('--interval <interval>', 'bar interval: 1m, 5m, 15m, 30m, 1h, 1d, 1wk, 1mo').argParser(parseInterval);
  return command
    .addOption(defaultInterval ? interval.default(defaultInterval) : interval.makeOptionMandatory())
    .option('--source <name>', 'source name stored with each bar (default: the provider, e.g. csv, yahoo)')
    .option('--create-symbols', 'add symbols the input names that tradedb does not know (default: reject their rows)')
    .option('--batch-size <bars>', 'bars per transaction (default 50000)', parseWholeNumber)
    .option('--json', 'print the summary as one JSON object on stdout')
    .option('--no-progress', 'no progress bar (there is none when stderr is not a terminal)')
    .addHelpText(
      'after',
      '\nRows that break a rule are not loaded; each is logged with its line in data_ingestion.data_quality_logs\n' +
        '(see `tradedb quality --run N`) and the rest loads. Exit code: 0 when anything loaded or there was\n' +
        'nothing to do, 1 when the load failed or every row was rejected, 130 when interrupted.',
    );
}

/** The symbols and time range of a download from an API. */
function withDownloadRange(command: Command): Command {
  return command
    .requiredOption('--symbols <list>', 'symbols separated by commas, e.g. AAPL,MSFT', parseSymbolList)
    .requiredOption('--from <date>', 'first day or time', parseInstant)
    .option('--to <date>', 'end, exclusive (default now)', parseInstant);
}

/** Refuses a file that cannot be read before a run is recorded for it. */
function requireReadableFile(file: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new UserFacingError(`Cannot read ${file}: ${existsSync(file) ? 'permission denied' : 'no such file'}.`);
  }
}

/** Runs one ingest through the data_ingestion pool with progress, Ctrl-C handling and a summary. */
async function runIngest(provider: BarProvider, options: CommonOptions, extra: { parameters: Record<string, unknown>; total?: number; createSymbols?: boolean }): Promise<void> {
  const interrupt = abortOnInterrupt('finishing the batch in flight');
  let progress: IngestProgress | undefined;
  try {
    const summary = await withServicePools((pools) => {
      // Started once the server is up, so its start-up messages do not cut through the bar.
      progress = startIngestProgress({ enabled: options.progress && !options.json, total: extra.total });
      return ingestBars(pools.services.data_ingestion, {
        provider,
        interval: options.interval,
        source: options.source,
        createSymbols: extra.createSymbols ?? options.createSymbols,
        batchSize: options.batchSize,
        parameters: extra.parameters,
        signal: interrupt.signal,
        onRowsRead: (count) => progress?.rowsRead(count),
      });
    });
    progress?.rowsRead(summary.read);
    progress?.stop();
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    if (options.json) console.log(JSON.stringify({ ...summary, peakRssMb }));
    else console.log(formatIngestSummary(summary));
    process.exitCode = exitCodeOf(summary);
  } finally {
    progress?.stop();
    interrupt.release();
  }
}

export function registerIngestCommand(program: Command): void {
  const ingest = program.command('ingest').description('load bars into data_ingestion.market_data from a file, a generator or an API');

  withCommonOptions(
    ingest
      .command('csv <file>')
      .description('load a CSV file (.csv or .csv.gz): header symbol,timestamp,open,high,low,close,volume[,vwap,trade_count], or Yahoo\'s export with --symbol')
      .option('--column-map <pairs>', 'which header holds which field, e.g. timestamp=Date,symbol=Ticker', parseColumnMap)
      .option('--symbol <symbol>', 'the symbol of every row, for files without a symbol column')
      .option('--delimiter <char>', 'field delimiter (default: detected among , ; tab |)'),
  ).action(async (file: string, options: CommonOptions & { columnMap?: Record<string, string>; symbol?: string; delimiter?: string }) => {
    requireReadableFile(file);
    const provider = new CsvProvider({ path: file, columnMap: options.columnMap, symbol: options.symbol, delimiter: options.delimiter === '\\t' ? '\t' : options.delimiter });
    await runIngest(provider, options, { parameters: { file, columnMap: options.columnMap, symbol: options.symbol } });
  });

  withCommonOptions(
    ingest
      .command('jsonl <file>')
      .description('load JSON lines (.jsonl or .jsonl.gz): one object per line with symbol, timestamp, open, high, low, close, volume')
      .option('--column-map <pairs>', 'which key holds which field, e.g. timestamp=t,symbol=S', parseColumnMap)
      .option('--symbol <symbol>', 'the symbol of every row, for files without a symbol key'),
  ).action(async (file: string, options: CommonOptions & { columnMap?: Record<string, string>; symbol?: string }) => {
    requireReadableFile(file);
    const provider = new JsonlProvider({ path: file, columnMap: options.columnMap, symbol: options.symbol });
    await runIngest(provider, options, { parameters: { file, columnMap: options.columnMap, symbol: options.symbol } });
  });

  withCommonOptions(
    ingest
      .command('synthetic')
      .description('generate seeded, reproducible bars (geometric Brownian motion) for demos and benchmarks; creates its SYN#### symbols')
      .option('--symbols <count>', 'how many symbols (SYN0001, SYN0002, ...)', parseWholeNumber, 10)
      .option('--bars <count>', 'bars per symbol', parseWholeNumber, 1000)
      .option('--seed <number>', 'same seed, same bars', (value) => Number.parseInt(value, 10), 42)
      .option('--start <time>', 'start of the first bar (default: so that the last bar is just before now)', parseInstant)
      .addOption(new Option('--order <order>', 'row order: each symbol in turn, or all symbols at each time').choices(['symbol', 'time']).default('symbol')),
    '1d',
  ).action(async (options: CommonOptions & { symbols: number; bars: number; seed: number; start?: Date; order: 'symbol' | 'time' }) => {
    const provider = new SyntheticProvider({ symbolCount: options.symbols, bars: options.bars, seed: options.seed, interval: options.interval, start: options.start, order: options.order });
    await runIngest(provider, options, {
      parameters: { symbols: options.symbols, bars: options.bars, seed: options.seed, start: options.start?.toISOString(), order: options.order },
      total: options.symbols * options.bars,
      createSymbols: true,
    });
  });

  withCommonOptions(
    withDownloadRange(
      ingest
        .command('yahoo')
        .description('download bars from Yahoo Finance (needs internet; daily bars are stored by exchange-local date)'),
    ),
    '1d',
  ).action(async (options: CommonOptions & { symbols: string[]; from: Date; to?: Date }) => {
    // Loaded on use: yahoo-finance2 is large, and no other command needs it.
    const { YahooProvider } = await import('../../services/data-ingestion/providers/yahoo-provider.ts');
    const provider = new YahooProvider({ symbols: options.symbols, interval: options.interval, from: options.from, to: options.to });
    await runIngest(provider, options, { parameters: { symbols: options.symbols, from: options.from.toISOString(), to: options.to?.toISOString() } });
  });

  withCommonOptions(
    withDownloadRange(
      ingest
        .command('alpaca')
        .description('download bars from Alpaca Market Data (needs internet and ALPACA_API_KEY_ID / ALPACA_API_SECRET_KEY)'),
    )
      .addOption(new Option('--feed <feed>', 'iex (free) or sip (paid plans)').choices(['iex', 'sip']).default('iex')),
    '1d',
  ).action(async (options: CommonOptions & { symbols: string[]; from: Date; to?: Date; feed: 'iex' | 'sip' }) => {
    const { AlpacaProvider } = await import('../../services/data-ingestion/providers/alpaca-provider.ts');
    const provider = new AlpacaProvider({ symbols: options.symbols, interval: options.interval, from: options.from, to: options.to, feed: options.feed });
    await runIngest(provider, options, { parameters: { symbols: options.symbols, from: options.from.toISOString(), to: options.to?.toISOString(), feed: options.feed } });
  });
}
