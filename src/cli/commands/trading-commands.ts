import { Argument, type Command, Option } from 'commander';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { OrderService } from '../../services/execution/order-service.ts';
import { ORDER_TYPES, type OrderRow, TIMES_IN_FORCE } from '../../services/execution/order-table.ts';
import { positionRepository } from '../../services/execution/position-repository.ts';
import { setKillSwitch } from '../../services/risk-management/kill-switch.ts';
import { LIMIT_TYPES } from '../../services/risk-management/risk-limit-table.ts';
import { RiskLimitService } from '../../services/risk-management/risk-limit-service.ts';
import { AccountService } from '../../services/shared/account-service.ts';
import { STRATEGY_KINDS } from '../../services/strategy-engine/strategy-kinds.ts';
import { StrategyPerformance } from '../../services/strategy-engine/strategy-performance.ts';
import { StrategyService, type StrategyStatus } from '../../services/strategy-engine/strategy-service.ts';
import { withOwnerPool, withServicePools } from '../database-session.ts';
import { formatTable } from '../output-table.ts';
import { parseCalendarDate, parseInstant, parseJson, parseSymbolList, parseWholeNumber } from '../option-parsers.ts';
import { replayStrategy } from '../../services/strategy-engine/paper-replay.ts';
import { PortfolioAnalytics } from '../../services/analytics/portfolio-analytics.ts';

/** Prints rows as JSON or as a table of the given columns. */
function print<T extends object>(rows: T[], json: boolean | undefined, columns: Array<[header: string, cell: (row: T) => unknown]>): void {
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log(rows.length === 0 ? '(none)' : formatTable(columns.map(([header]) => header), rows.map((row) => columns.map(([, cell]) => cell(row) as string))));
}

const ORDER_COLUMNS: Array<[string, (order: OrderRow) => unknown]> = [
  ['ID', (order) => order.id],
  ['CLIENT ID', (order) => order.clientOrderId],
  ['SYMBOL', (order) => order.symbol],
  ['SIDE', (order) => order.side],
  ['TYPE', (order) => order.orderType],
  ['QTY', (order) => order.quantity],
  ['LIMIT', (order) => order.limitPrice],
  ['STATUS', (order) => order.status],
  ['FILLED', (order) => order.filledQuantity],
  ['AVG PRICE', (order) => order.averageFillPrice],
  ['VERSION', (order) => order.version],
];

/** `tradedb accounts`, `orders`, `positions`, `risk`: thin commands over the trading services. */
export function registerTradingCommands(program: Command): void {
  const accounts = program.command('accounts').description('trading accounts (created by the owner role)');
  accounts
    .command('add <account>')
    .description('add an account, e.g. paper-main')
    .requiredOption('--name <text>', 'a name for people')
    .option('--currency <code>', 'base currency', 'USD')
    .option('--cash <amount>', 'starting cash', '0')
    .action(async (accountId: string, options: { name: string; currency: string; cash: string }) => {
      await withOwnerPool(async (owner) => {
        const row = await new AccountService(owner).add({ accountId, name: options.name, baseCurrency: options.currency, startingCash: options.cash });
        console.log(`added account ${row.accountId} (${row.baseCurrency}, starting cash ${row.startingCash})`);
      });
    });
  accounts
    .command('list')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await withOwnerPool((owner) => new AccountService(owner).list());
      print(rows, options.json, [['ACCOUNT', (row) => row.accountId], ['NAME', (row) => row.name], ['CCY', (row) => row.baseCurrency], ['STARTING CASH', (row) => row.startingCash], ['STATUS', (row) => row.status]]);
    });

  const orders = program.command('orders').description('place, cancel and list orders (through the pre-trade risk check)');
  orders
    .command('place')
    .description('place an order; it is checked against the risk limits and kill switch in the same transaction')
    .requiredOption('--account <id>', 'account')
    .requiredOption('--symbol <symbol>', 'symbol')
    .addOption(new Option('--side <side>', 'buy or sell').choices(['buy', 'sell']).makeOptionMandatory())
    .requiredOption('--quantity <qty>', 'quantity (at most 8 decimals)')
    .addOption(new Option('--type <type>', 'order type').choices([...ORDER_TYPES]).default('market'))
    .addOption(new Option('--tif <tif>', 'time in force').choices([...TIMES_IN_FORCE]).default('day'))
    .option('--limit-price <price>', 'limit price (limit and stop_limit orders)')
    .option('--stop-price <price>', 'stop price (stop and stop_limit orders)')
    .option('--client-order-id <id>', 'idempotency key: placing again with the same id returns the same order (default: a new UUID)')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; symbol: string; side: 'buy' | 'sell'; quantity: string; type: (typeof ORDER_TYPES)[number]; tif: (typeof TIMES_IN_FORCE)[number]; limitPrice?: string; stopPrice?: string; clientOrderId?: string; json?: boolean }) => {
      const placed = await withServicePools((pools) =>
        new OrderService(pools.services.execution).place({
          accountId: options.account,
          symbol: options.symbol,
          side: options.side,
          quantity: options.quantity,
          orderType: options.type,
          timeInForce: options.tif,
          limitPrice: options.limitPrice,
          stopPrice: options.stopPrice,
          clientOrderId: options.clientOrderId,
        }),
      );
      if (options.json) console.log(JSON.stringify(placed, null, 2));
      else console.log(`${placed.created ? 'placed' : 'already placed (same client order id)'}: order ${placed.order.id}, ${placed.order.status}`);
    });
  orders
    .command('cancel <orderId>')
    .requiredOption('--account <id>', 'account')
    .option('--expected-version <n>', 'cancel only if the order is still at this version', parseWholeNumber)
    .action(async (orderId: string, options: { account: string; expectedVersion?: number }) => {
      const order = await withServicePools((pools) => new OrderService(pools.services.execution).cancel(options.account, parseWholeNumber(orderId), { expectedVersion: options.expectedVersion }));
      console.log(`order ${order.id} ${order.status} (filled ${order.filledQuantity} of ${order.quantity})`);
    });
  orders
    .command('list')
    .requiredOption('--account <id>', 'account')
    .option('--open', 'only open orders')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; open?: boolean; json?: boolean }) => {
      const rows = await withServicePools((pools) => new OrderService(pools.services.execution).list(options.account, { open: options.open }));
      print(rows, options.json, ORDER_COLUMNS);
    });

  program
    .command('positions')
    .description("an account's positions: signed quantity, average cost, realized P&L")
    .requiredOption('--account <id>', 'account')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; json?: boolean }) => {
      const rows = await withServicePools((pools) => withAccountTransaction(pools.services.execution, options.account, (client) => positionRepository.list(client, options.account), { readOnly: true }));
      print(rows, options.json, [['SYMBOL', (row) => row.symbol], ['QTY', (row) => row.quantity], ['AVG COST', (row) => row.averageCost], ['REALIZED P&L', (row) => row.realizedPnl]]);
    });

  const strategies = program.command('strategies').description('strategies: kind, parameters (validated), status');
  strategies
    .command('add <name>')
    .requiredOption('--kind <kind>', `implementation: ${Object.keys(STRATEGY_KINDS).join(', ')}`)
    .option('--parameters <json>', 'parameters as JSON, e.g. \'{"fast":10,"slow":30,"quantity":"5"}\'', parseJson, {})
    .option('--description <text>', 'what it does')
    .action(async (name: string, options: { kind: string; parameters: unknown; description?: string }) => {
      const parameters = options.parameters;
      const row = await withServicePools((pools) => new StrategyService(pools.services.strategy_engine).create({ name, kind: options.kind, parameters, description: options.description }));
      console.log(`strategy ${row.id} ${row.name} (${row.kind}, ${row.status}): ${JSON.stringify(row.parameters)}`);
    });
  strategies
    .command('set <id>')
    .description('change status and/or parameters, at the version you read')
    .requiredOption('--version <n>', 'the version you read (tradedb strategies list)', parseWholeNumber)
    .addOption(new Option('--status <status>', 'new status').choices(['draft', 'active', 'paused', 'retired']))
    .option('--parameters <json>', 'new parameters as JSON', parseJson)
    .action(async (id: string, options: { version: number; status?: StrategyStatus; parameters?: unknown }) => {
      const parameters = options.parameters;
      const row = await withServicePools((pools) => new StrategyService(pools.services.strategy_engine).update(parseWholeNumber(id), options.version, { parameters, status: options.status }));
      console.log(`strategy ${row.id} ${row.name}: ${row.status}, version ${row.version}`);
    });
  strategies
    .command('list')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await withServicePools((pools) => new StrategyService(pools.services.strategy_engine).list());
      print(rows, options.json, [['ID', (row) => row.id], ['NAME', (row) => row.name], ['KIND', (row) => row.kind], ['STATUS', (row) => row.status], ['VERSION', (row) => row.version], ['PARAMETERS', (row) => JSON.stringify(row.parameters)]]);
    });
  strategies
    .command('record-performance')
    .description("write each strategy's row in strategy_performance for a UTC day (again: the same row)")
    .requiredOption('--day <date>', 'the day (YYYY-MM-DD)', parseCalendarDate)
    .action(async (options: { day: string }) => {
      const written = await withServicePools((pools) => new StrategyPerformance(pools.services.strategy_engine).record(options.day));
      console.log(`recorded ${written} ${written === 1 ? 'strategy' : 'strategies'} for ${options.day}`);
    });
  strategies
    .command('performance <id>')
    .description("a strategy's recorded days: fills, win rate, profit factor, realized P&L")
    .option('--from <date>', 'first day (YYYY-MM-DD)', parseCalendarDate)
    .option('--to <date>', 'last day (YYYY-MM-DD)', parseCalendarDate)
    .option('--json', 'print JSON')
    .action(async (id: string, options: { from?: string; to?: string; json?: boolean }) => {
      const rows = await withServicePools((pools) => new StrategyPerformance(pools.services.strategy_engine).list(parseWholeNumber(id), options));
      print(rows, options.json, [['DAY', (row) => row.asOf], ['FILLS', (row) => row.trades], ['WIN RATE', (row) => row.winRate], ['PROFIT FACTOR', (row) => row.profitFactor], ['REALIZED', (row) => row.realizedPnl]]);
    });
  program
    .command('signals')
    .description("a strategy's latest signals")
    .requiredOption('--strategy <id>', 'strategy id', parseWholeNumber)
    .option('--json', 'print JSON')
    .action(async (options: { strategy: number; json?: boolean }) => {
      const rows = await withServicePools((pools) => new StrategyService(pools.services.strategy_engine).signals(options.strategy));
      print(rows, options.json, [['ID', (row) => row.id], ['AT', (row) => row.generatedAt.toISOString()], ['SYMBOL', (row) => row.symbol], ['SIGNAL', (row) => row.signalType], ['QTY', (row) => row.quantity], ['PRICE', (row) => row.price], ['STRENGTH', (row) => row.strength]]);
    });

  const paper = program.command('paper').description('paper trading against stored bars');
  paper
    .command('run')
    .description('replay stored bars through a strategy and the paper broker, writing real signals, orders, trades and positions')
    .requiredOption('--strategy <id>', 'an active sma_crossover strategy', parseWholeNumber)
    .requiredOption('--account <id>', 'the account that trades')
    .requiredOption('--symbols <list>', 'symbols, comma-separated', parseSymbolList)
    .requiredOption('--from <date>', 'first bar', parseInstant)
    .requiredOption('--to <date>', 'end, exclusive', parseInstant)
    .option('--source <name>', 'bars of this source (default: the only one there is)')
    .option('--json', 'print the summary as JSON')
    .action(async (options: { strategy: number; account: string; symbols: string[]; from: Date; to: Date; source?: string; json?: boolean }) => {
      const summary = await withServicePools((pools) => replayStrategy(pools, { strategyId: options.strategy, accountId: options.account, symbols: options.symbols, from: options.from, to: options.to, source: options.source }));
      if (options.json) {
        console.log(JSON.stringify(summary, null, 2));
        return;
      }
      console.log(`replayed ${summary.bars} bars: ${summary.signals} new signals, ${summary.orders} new orders (${summary.rejected} rejected by risk), ${summary.fills} fills`);
      print(summary.positions, false, [['SYMBOL', (row) => row.symbol], ['QTY', (row) => row.quantity], ['REALIZED P&L', (row) => row.realizedPnl]]);
    });

  const analytics = program.command('analytics').description('portfolio summaries and performance, computed from trades, positions and bars');
  analytics
    .command('summary')
    .requiredOption('--account <id>', 'account')
    .option('--as-of <time>', 'as of this instant (default now)', parseInstant)
    .option('--json', 'print JSON')
    .action(async (options: { account: string; asOf?: Date; json?: boolean }) => {
      const row = await withServicePools((pools) => new PortfolioAnalytics(pools.services.analytics).summarize(options.account, options.asOf ?? new Date()));
      print([row], options.json, [['AS OF', (r) => r.asOf.toISOString()], ['CASH', (r) => r.cash], ['MARKET VALUE', (r) => r.marketValue], ['EQUITY', (r) => r.equity], ['GROSS', (r) => r.grossExposure], ['NET', (r) => r.netExposure], ['REALIZED', (r) => r.realizedPnl], ['UNREALIZED', (r) => r.unrealizedPnl]]);
    });
  analytics
    .command('performance')
    .requiredOption('--account <id>', 'account')
    .requiredOption('--from <date>', 'first day (YYYY-MM-DD)', parseCalendarDate)
    .requiredOption('--to <date>', 'last day (YYYY-MM-DD)', parseCalendarDate)
    .option('--json', 'print JSON')
    .action(async (options: { account: string; from: string; to: string; json?: boolean }) => {
      const { performance } = await withServicePools((pools) => new PortfolioAnalytics(pools.services.analytics).performance(options.account, options.from, options.to));
      print([performance], options.json, [['FROM', (r) => r.periodStart], ['TO', (r) => r.periodEnd], ['RETURN', (r) => r.returns], ['VOLATILITY', (r) => r.volatility], ['SHARPE', (r) => r.sharpe], ['MAX DRAWDOWN', (r) => r.maxDrawdown], ['TRADES', (r) => r.trades], ['WIN RATE', (r) => r.winRate], ['REALIZED', (r) => r.realizedPnl]]);
    });

  const risk = program.command('risk').description('risk limits, risk events and the kill switch');
  risk
    .command('limits')
    .requiredOption('--account <id>', 'account')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; json?: boolean }) => {
      const rows = await withServicePools((pools) => new RiskLimitService(pools.services.risk_management).limits(options.account));
      print(rows, options.json, [['ID', (row) => row.id], ['SCOPE', (row) => row.scope], ['TARGET', (row) => row.symbol ?? row.strategyId ?? ''], ['TYPE', (row) => row.limitType], ['VALUE', (row) => row.limitValue], ['ENABLED', (row) => row.enabled]]);
    });
  risk
    .command('set-limit')
    .description('set a limit for the account, or one of its symbols or strategies')
    .requiredOption('--account <id>', 'account')
    .addOption(new Option('--type <type>', 'limit type').choices([...LIMIT_TYPES]).makeOptionMandatory())
    .requiredOption('--value <value>', 'quantity, amount in base currency, or count; a daily loss limit of 5000 stops at -5000')
    .option('--symbol <symbol>', 'only for this symbol')
    .option('--strategy <id>', 'only for this strategy', parseWholeNumber)
    .action(async (options: { account: string; type: string; value: string; symbol?: string; strategy?: number }) => {
      const row = await withServicePools((pools) => new RiskLimitService(pools.services.risk_management).setLimit(options.account, { type: options.type, value: options.value, symbol: options.symbol, strategyId: options.strategy }));
      console.log(`limit ${row.id}: ${row.limitType} ${row.limitValue} (${row.scope}${row.symbol ? ` ${row.symbol}` : ''})`);
    });
  risk
    .command('position-limits')
    .description("each symbol's cap on how long and how short its position may get")
    .requiredOption('--account <id>', 'account')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; json?: boolean }) => {
      const rows = await withServicePools((pools) => new RiskLimitService(pools.services.risk_management).positionLimits(options.account));
      print(rows, options.json, [['SYMBOL', (row) => row.symbol], ['MAX LONG', (row) => row.maxLongQuantity ?? 'unlimited'], ['MAX SHORT', (row) => row.maxShortQuantity ?? 'unlimited'], ['ENABLED', (row) => row.enabled]]);
    });
  risk
    .command('set-position-limit')
    .description("cap how long and how short one symbol's position may get, open orders included")
    .requiredOption('--account <id>', 'account')
    .requiredOption('--symbol <symbol>', 'symbol')
    .option('--max-long <quantity>', 'largest long position (omit: no limit)')
    .option('--max-short <quantity>', 'largest short position, as a positive quantity; 0 forbids shorting (omit: no limit)')
    .action(async (options: { account: string; symbol: string; maxLong?: string; maxShort?: string }) => {
      const row = await withServicePools((pools) => new RiskLimitService(pools.services.risk_management).setPositionLimit(options.account, options));
      console.log(`position limit ${row.symbol}: long ${row.maxLongQuantity ?? 'unlimited'}, short ${row.maxShortQuantity ?? 'unlimited'}`);
    });
  risk
    .command('events')
    .requiredOption('--account <id>', 'account')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; json?: boolean }) => {
      const rows = await withServicePools((pools) => new RiskLimitService(pools.services.risk_management).events(options.account));
      print(rows, options.json, [['ID', (row) => row.id], ['WHEN', (row) => row.occurredAt.toISOString()], ['TYPE', (row) => row.eventType], ['SEVERITY', (row) => row.severity], ['ORDER', (row) => row.orderId], ['DETAIL', (row) => row.detail]]);
    });
  risk
    .command('kill-switch')
    .addArgument(new Argument('<state>', 'on or off').choices(['on', 'off']))
    .description('on: reject every new order at once; off: trade again')
    .option('--reason <text>', 'why (shown in every rejection)')
    .action(async (state: string, options: { reason?: string }) => {
      await withOwnerPool(async (owner) => {
        await setKillSwitch(owner, state === 'on', options.reason);
      });
      console.log(`kill switch ${state}`);
    });
}
