import { afterAll, beforeAll, expect, it } from 'vitest';
import { ingestBars } from '../../../src/services/data-ingestion/ingest-pipeline.ts';
import { SyntheticProvider } from '../../../src/services/data-ingestion/providers/synthetic-provider.ts';
import { replayStrategy } from '../../../src/services/strategy-engine/paper-replay.ts';
import { StrategyService } from '../../../src/services/strategy-engine/strategy-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
beforeAll(async () => {
  trading = await openTradingDatabase('replay', { accounts: ['replay'], symbols: [] });
  const loaded = await ingestBars(trading.pools.services.data_ingestion, {
    provider: new SyntheticProvider({ symbols: ['RPA', 'RPB'], interval: '1d', bars: 400, seed: 11, start: new Date('2023-01-02T00:00:00Z') }),
    interval: '1d',
    source: 'synthetic',
    createSymbols: true,
  });
  expect(loaded.inserted).toBe(800);
});
afterAll(() => trading?.close());

it('replays bars through an sma crossover: orders fill at the next bar\'s open, positions equal their trades, a second run adds nothing', async () => {
  const strategies = new StrategyService(trading.pools.services.strategy_engine);
  const strategy = await strategies.create({ name: 'replay', kind: 'sma_crossover', parameters: { fast: 5, slow: 20, quantity: '3' } });
  await strategies.update(strategy.id, 1, { status: 'active' });
  const options = { strategyId: strategy.id, accountId: 'replay', symbols: ['RPA', 'RPB'], from: new Date('2023-01-01T00:00:00Z'), to: new Date('2025-01-01T00:00:00Z') };

  const first = await replayStrategy(trading.pools, options);
  expect(first.bars).toBe(800);
  expect(first.signals).toBeGreaterThan(4);
  expect(first.orders).toBe(first.signals);
  // Every order but possibly the last of each symbol (placed on the final bar) is filled.
  expect(first.fills).toBeGreaterThanOrEqual(first.orders - 2);

  const { rows: mismatches } = await trading.admin.query(`
    SELECT t.id FROM execution.trades t
      JOIN strategy_engine.strategy_signals s ON s.id = (SELECT signal_id FROM execution.orders o WHERE o.id = t.order_id)
      JOIN LATERAL (SELECT ts, open FROM data_ingestion.market_data m WHERE m.symbol = t.symbol AND m.interval = '1d' AND m.ts > s.generated_at ORDER BY ts LIMIT 1) next ON true
     WHERE t.executed_at <> next.ts OR t.price <> next.open`);
  expect(mismatches).toEqual([]);
  const { rows: positions } = await trading.admin.query(`
    SELECT p.symbol, p.quantity = coalesce((SELECT sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) FROM execution.trades t WHERE t.symbol = p.symbol), 0) AS agrees
      FROM execution.positions p WHERE p.account_id = 'replay'`);
  expect(positions.length).toBeGreaterThan(0);
  expect(positions.every((row) => row.agrees)).toBe(true);

  const second = await replayStrategy(trading.pools, options);
  expect(second).toMatchObject({ bars: 800, signals: 0, orders: 0, fills: 0, positions: first.positions });
});

it('orders that fill over several bars, and orders the risk check rejects, replay cleanly and twice alike', async () => {
  const strategies = new StrategyService(trading.pools.services.strategy_engine);
  const strategy = await strategies.create({ name: 'big orders', kind: 'sma_crossover', parameters: { fast: 3, slow: 8, quantity: '20000' } });
  await strategies.update(strategy.id, 1, { status: 'active' });
  await trading.admin.query("INSERT INTO shared.accounts (account_id, name) VALUES ('replay-big', 'big'), ('replay-limited', 'limited')");
  await trading.admin.query("INSERT INTO risk_management.risk_limits (account_id, scope, limit_type, limit_value) VALUES ('replay-limited', 'account', 'max_order_notional', 0.01)");
  const base = { strategyId: strategy.id, symbols: ['RPA'], from: new Date('2023-01-01T00:00:00Z'), to: new Date('2024-01-01T00:00:00Z') };

  const first = await replayStrategy(trading.pools, { ...base, accountId: 'replay-big' });
  const second = await replayStrategy(trading.pools, { ...base, accountId: 'replay-big' });
  expect(first.fills).toBeGreaterThan(first.orders); // big orders took several bars
  expect(second).toMatchObject({ signals: 0, orders: 0, fills: 0, positions: first.positions });
  // Long only: closing never sells more than was bought.
  expect(first.positions.every((position) => !position.quantity.startsWith('-'))).toBe(true);

  const limited = await replayStrategy(trading.pools, { ...base, accountId: 'replay-limited' });
  expect(limited.rejected).toBeGreaterThan(0);
  expect(limited.fills).toBe(0);
});
