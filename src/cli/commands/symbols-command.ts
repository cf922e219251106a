import { type Command, Option } from 'commander';
import { SymbolService } from '../../services/data-ingestion/symbol-service.ts';
import { ASSET_CLASSES, type SymbolRow } from '../../services/data-ingestion/symbol-table.ts';
import { withServicePools } from '../database-session.ts';
import { formatTable } from '../output-table.ts';

interface DetailOptions {
  name?: string;
  exchange?: string;
  assetClass?: string;
  currency?: string;
}

function withDetailOptions(command: Command): Command {
  return command
    .option('--name <text>', 'company or instrument name')
    .option('--exchange <code>', 'listing exchange, e.g. NASDAQ')
    .addOption(new Option('--asset-class <class>', 'kind of instrument').choices([...ASSET_CLASSES]))
    .option('--currency <code>', 'ISO 4217 currency of its prices (default USD)');
}

function symbolTable(rows: SymbolRow[]): string {
  if (rows.length === 0) return '(no symbols)';
  return formatTable(
    ['SYMBOL', 'NAME', 'EXCHANGE', 'CLASS', 'CCY', 'STATUS'],
    rows.map((row) => [row.symbol, row.name, row.exchange, row.assetClass, row.currency, row.status]),
  );
}

/** Runs `work` with a SymbolService on the data_ingestion pool. */
function withSymbols<T>(work: (symbols: SymbolService) => Promise<T>): Promise<T> {
  return withServicePools((pools) => work(new SymbolService(pools.services.data_ingestion)));
}

export function registerSymbolsCommand(program: Command): void {
  const symbols = program.command('symbols').description('the instruments tradedb knows: add, list, show, update, delist, relist');

  withDetailOptions(symbols.command('add <symbol>').description('add a symbol (upper-cased; e.g. AAPL, BRK-B, ^GSPC, EURUSD=X)')).action(
    async (symbol: string, options: DetailOptions) => {
      const row = await withSymbols((service) => service.add({ symbol, ...options }));
      console.log(`added ${row.symbol} (${row.assetClass}, ${row.currency})`);
    },
  );

  withDetailOptions(symbols.command('update <symbol>').description('change the details of a symbol (only the options given)')).action(
    async (symbol: string, options: DetailOptions) => {
      const row = await withSymbols((service) => service.update(symbol, options));
      console.log(symbolTable([row]));
    },
  );

  symbols
    .command('list')
    .description('list symbols (active ones by default)')
    .addOption(new Option('--status <status>', 'which symbols').choices(['active', 'delisted', 'suspended', 'all']).default('active'))
    .option('--search <text>', 'tickers starting with, or names containing, TEXT (any status)')
    .option('--json', 'print JSON')
    .action(async (options: { status: string; search?: string; json?: boolean }) => {
      const rows = await withSymbols((service) =>
        options.search !== undefined ? service.search(options.search, 100) : service.list(options.status === 'all' ? undefined : (options.status as SymbolRow['status'])),
      );
      console.log(options.json ? JSON.stringify(rows, null, 2) : symbolTable(rows));
    });

  symbols
    .command('show <symbol>')
    .description('one symbol: details, delisting history and where each of its data series stands')
    .option('--json', 'print JSON')
    .action(async (symbolText: string, options: { json?: boolean }) => {
      const shown = await withSymbols(async (service) => {
        const symbol = await service.get(symbolText);
        if (!symbol) return undefined;
        return { symbol, delistings: await service.delistings(symbol.symbol), series: await service.dataStatus(symbol.symbol) };
      });
      if (!shown) {
        console.error(`tradedb: symbol ${symbolText.toUpperCase()} is not known`);
        process.exitCode = 1;
        return;
      }
      if (options.json) {
        console.log(JSON.stringify(shown, null, 2));
        return;
      }
      console.log(symbolTable([shown.symbol]));
      if (shown.delistings.length > 0) {
        console.log('\nDelistings:');
        console.log(formatTable(['DELISTED', 'RELISTED', 'REASON'], shown.delistings.map((row) => [row.delistedOn, row.relistedOn, row.reason])));
      }
      console.log('\nData series:');
      console.log(
        shown.series.length === 0
          ? '(none loaded)'
          : formatTable(
              ['SOURCE', 'INTERVAL', 'BARS', 'WATERMARK', 'LAST SUCCESS', 'LAST FAILURE', 'LAST ERROR'],
              shown.series.map((row) => [row.source, row.interval, row.rowCount, row.watermark?.toISOString(), row.lastSuccessAt?.toISOString(), row.lastFailureAt?.toISOString(), row.lastError]),
            ),
      );
    });

  symbols
    .command('delist <symbol>')
    .description('mark a symbol delisted; its bars are kept')
    .option('--date <YYYY-MM-DD>', 'delisting date (default today)')
    .option('--reason <text>', 'why, e.g. "acquired by X"')
    .action(async (symbol: string, options: { date?: string; reason?: string }) => {
      const row = await withSymbols((service) => service.delist(symbol, options));
      console.log(`delisted ${row.symbol}`);
    });

  symbols
    .command('relist <symbol>')
    .description('bring a delisted symbol back, with its history')
    .option('--date <YYYY-MM-DD>', 'relisting date (default today)')
    .action(async (symbol: string, options: { date?: string }) => {
      const row = await withSymbols((service) => service.relist(symbol, options));
      console.log(`relisted ${row.symbol}`);
    });
}
