import { UserFacingError } from '../../db/errors.ts';
import type { Pools } from '../../db/pools.ts';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { OrderService } from '../execution/order-service.ts';
import type { FillOutcome } from '../execution/fill-service.ts';
import { PaperBroker, type PaperBar } from '../execution/paper-broker.ts';
import { positionRepository } from '../execution/position-repository.ts';
import { NothingToCloseError, placeOrderFromSignal } from '../execution/signal-orders.ts';
import { RiskRejectedError } from '../execution/execution-errors.ts';
import { barSources } from '../data-ingestion/market-data-reader.ts';
import { SmaCrossover } from './sma-crossover.ts';
import { StrategyService } from './strategy-service.ts';

export interface ReplayOptions {
  strategyId: number;
  accountId: string;
  symbols: string[];
  from: Date;
  to: Date;
  /** Bars of this source (default: the only source the symbols have at the strategy's interval). */
  source?: string;
  onProgress?: (bars: number) => void;
}

export interface ReplaySummary {
  bars: number;
  signals: number;
  orders: number;
  rejected: number;
  fills: number;
  positions: Array<{ symbol: string; quantity: string; realizedPnl: string }>;
}

const PAGE = 5000;

/**
 * A backtest that writes real rows: replays stored bars in time order through a strategy (an
 * sma_crossover: buy when the fast average crosses above the slow, close when below, long only,
 * deciding from its own signals, never from the account's position today),
 * records its signals, turns them into orders through the risk check, and lets the paper broker
 * fill them at the next bar. Everything is keyed on the bars (signal times, order and fill ids),
 * so running the same replay again adds nothing.
 */
export async function replayStrategy(pools: Pools, options: ReplayOptions): Promise<ReplaySummary> {
  const strategies = new StrategyService(pools.services.strategy_engine);
  const strategy = (await strategies.list()).find((row) => row.id === options.strategyId);
  if (!strategy) throw new UserFacingError(`Unknown strategy ${options.strategyId}.`);
  if (strategy.kind !== 'sma_crossover') throw new UserFacingError(`Strategy ${strategy.id} is a ${strategy.kind} strategy; paper run replays sma_crossover strategies.`);
  if (strategy.status !== 'active') throw new UserFacingError(`Strategy ${strategy.id} is ${strategy.status}; activate it first (tradedb strategies set ${strategy.id} --version ${strategy.version} --status active).`);
  const parameters = strategy.parameters as { fast: number; slow: number; interval: string; quantity: string };
  const market = pools.services.data_ingestion;
  const source = options.source ?? (await onlySource(market, options.symbols, parameters.interval));

  const execution = pools.services.execution;
  const broker = new PaperBroker(execution);
  const orders = new OrderService(execution);
  const averages = new Map(options.symbols.map((symbol) => [symbol, new SmaCrossover(parameters.fast, parameters.slow)]));
  // The strategy's own view (long or flat), from its signals alone: the account's position today
  // must not change what a replay of the past decides.
  const long = new Set<string>();
  const summary: ReplaySummary = { bars: 0, signals: 0, orders: 0, rejected: 0, fills: 0, positions: [] };

  // Keyset pages over (ts, symbol): constant memory however long the range.
  let after: { ts: Date; symbol: string } | undefined;
  for (;;) {
    const { rows } = await market.query<PaperBar & { close: string }>(
      `SELECT symbol, ts, trim_scale(open)::text AS open, trim_scale(high)::text AS high, trim_scale(low)::text AS low,
              trim_scale(close)::text AS close, trim_scale(volume)::text AS volume
         FROM data_ingestion.market_data
        WHERE symbol = ANY($1) AND interval = $2 AND source = $3 AND ts >= $4 AND ts < $5
          AND ($6::timestamptz IS NULL OR (ts, symbol) > ($6, $7::text))
        ORDER BY ts, symbol LIMIT ${PAGE}`,
      [options.symbols, parameters.interval, source, options.from, options.to, after?.ts ?? null, after?.symbol ?? null],
    );
    for (const bar of rows) {
      const fills: FillOutcome[] = await broker.processBar(options.accountId, bar);
      summary.fills += fills.filter((fill) => !fill.duplicate).length;
      const cross = averages.get(bar.symbol)!.push(bar.close);
      if (cross) await act(cross, bar);
      summary.bars += 1;
    }
    options.onProgress?.(summary.bars);
    if (rows.length < PAGE) break;
    const last = rows.at(-1)!;
    after = { ts: last.ts, symbol: last.symbol };
  }

  summary.positions = (await withAccountTransaction(execution, options.accountId, (client) => positionRepository.list(client, options.accountId), { readOnly: true }))
    .filter((position) => options.symbols.includes(position.symbol))
    .map(({ symbol, quantity, realizedPnl }) => ({ symbol, quantity, realizedPnl }));
  return summary;

  async function act(cross: 'up' | 'down', bar: PaperBar & { close: string }): Promise<void> {
    if ((cross === 'up') === long.has(bar.symbol)) return;
    const { signal, created } = await strategies.recordSignal(strategy!.id, {
      symbol: bar.symbol,
      signalType: cross === 'up' ? 'buy' : 'close',
      generatedAt: bar.ts,
      quantity: cross === 'up' ? parameters.quantity : undefined,
      // A signal belongs to the strategy, not to one account: replays for other accounts act on it too.
      metadata: { fast: parameters.fast, slow: parameters.slow, close: bar.close },
    });
    if (created) summary.signals += 1;
    try {
      const placed = await placeOrderFromSignal(execution, signal.id, { accountId: options.accountId });
      if (placed.created) summary.orders += 1;
      // A run that stopped between placing and submitting left it pending: submit it now.
      if (placed.order.status === 'pending') await orders.submit(options.accountId, placed.order.id, `paper-${placed.order.id}`);
      if (placed.order.status === 'rejected') {
        summary.rejected += 1;
        return;
      }
    } catch (error) {
      if (error instanceof RiskRejectedError) {
        summary.rejected += 1;
        return; // the strategy did not get in (or out): its view stays as it was
      }
      if (!(error instanceof NothingToCloseError)) throw error;
    }
    if (cross === 'up') long.add(bar.symbol);
    else long.delete(bar.symbol);
  }
}

async function onlySource(market: Pools['services']['data_ingestion'], symbols: string[], interval: string): Promise<string> {
  const sources = await barSources(market, symbols, interval);
  if (sources.length === 1) return sources[0]!;
  throw new UserFacingError(sources.length === 0 ? `No ${interval} bars for ${symbols.join(', ')}: ingest some first.` : `The symbols have ${interval} bars from several sources (${sources.join(', ')}): choose one with --source.`);
}
