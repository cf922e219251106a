import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { PaperBroker } from '../../../src/services/execution/paper-broker.ts';
import { matchOrder, matchPrice } from '../../../src/services/execution/paper-matching.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

const bar = { open: '100', high: '105', low: '95', volume: '1000' };
const order = (changes: object) => ({ side: 'buy', orderType: 'market', limitPrice: null, stopPrice: null, quantity: '10', filledQuantity: '0', ...changes }) as Parameters<typeof matchOrder>[0];

describe('matching one order against one bar', () => {
  it.each([
    ['market buy at the open', { orderType: 'market' }, '100'],
    ['buy limit above the open fills at the open', { orderType: 'limit', limitPrice: '102' }, '100'],
    ['buy limit inside the bar fills at the limit', { orderType: 'limit', limitPrice: '96' }, '96'],
    ['buy limit at the low fills at the limit', { orderType: 'limit', limitPrice: '95' }, '95'],
    ['buy limit below the low does not fill', { orderType: 'limit', limitPrice: '94.99' }, undefined],
    ['sell limit below the open fills at the open', { side: 'sell', orderType: 'limit', limitPrice: '99' }, '100'],
    ['sell limit at the high fills at the limit', { side: 'sell', orderType: 'limit', limitPrice: '105' }, '105'],
    ['sell limit above the high does not fill', { side: 'sell', orderType: 'limit', limitPrice: '105.01' }, undefined],
    ['buy stop inside the bar triggers at the stop', { orderType: 'stop', stopPrice: '103' }, '103'],
    ['buy stop below the open triggers at the open', { orderType: 'stop', stopPrice: '90' }, '100'],
    ['buy stop above the high does not trigger', { orderType: 'stop', stopPrice: '106' }, undefined],
    ['sell stop inside the bar triggers at the stop', { side: 'sell', orderType: 'stop', stopPrice: '97' }, '97'],
    ['buy stop-limit triggered, limit above the trigger', { orderType: 'stop_limit', stopPrice: '103', limitPrice: '104' }, '103'],
    ['buy stop-limit triggered, limit below the trigger', { orderType: 'stop_limit', stopPrice: '103', limitPrice: '101' }, '101'],
  ])('%s', (_name, changes, price) => {
    expect(matchPrice(order(changes), bar)).toBe(price);
  });

  it('takes at most its share of the volume, and no more than remains', () => {
    expect(matchOrder(order({ quantity: '500' }), bar)).toEqual({ quantity: '100', price: '100' });
    expect(matchOrder(order({ quantity: '500', filledQuantity: '450' }), bar)).toEqual({ quantity: '50', price: '100' });
    expect(matchOrder(order({ quantity: '5' }), { ...bar, volume: '0' })).toBeUndefined();
    expect(matchOrder(order({ quantity: '1' }), { ...bar, volume: '7' }, 0.1)).toEqual({ quantity: '0.7', price: '100' });
  });
});

describe('the paper broker', () => {
  let trading: TradingDatabase;
  beforeAll(async () => {
    trading = await openTradingDatabase('paper', { accounts: ['paper'], symbols: ['PAPR', 'OTHER'] });
  });
  afterAll(() => trading?.close());

  it('fills a limit order over several bars by volume, replays nothing twice, and leaves other symbols alone', async () => {
    const orders = new OrderService(trading.pool);
    const broker = new PaperBroker(trading.pool);
    const { order } = await orders.place({ accountId: 'paper', symbol: 'PAPR', side: 'buy', orderType: 'limit', quantity: '150', limitPrice: '50' });
    await orders.submit('paper', order.id);
    const other = (await orders.place({ accountId: 'paper', symbol: 'OTHER', side: 'buy', quantity: '1' })).order;
    await orders.submit('paper', other.id);

    // Bars after the orders were submitted: the broker offers a bar only to orders older than it.
    const minute = (n: number) => new Date(Math.ceil(Date.now() / 60_000) * 60_000 + n * 60_000);
    const bars = [
      { symbol: 'PAPR', ts: minute(1), open: '52', high: '53', low: '51', volume: '5000' }, // limit not reached
      { symbol: 'PAPR', ts: minute(2), open: '51', high: '51.5', low: '49.5', volume: '1000' }, // 100 at 50
      { symbol: 'PAPR', ts: minute(3), open: '49', high: '50', low: '48', volume: '1000' }, // 50 at 49 (open)
    ];
    const fills = [];
    for (const [index, next] of bars.entries()) {
      fills.push(...(await broker.processBar('paper', next)));
      // The same bar again while the order is still partly open: nothing new, no error.
      if (index === 1) expect(await broker.processBar('paper', next)).toEqual([]);
    }
    expect(fills.map((fill) => [fill.trade.quantity, fill.trade.price])).toEqual([['100', '50'], ['50', '49']]);
    expect(fills.at(-1)?.order).toMatchObject({ status: 'filled', filledQuantity: '150', averageFillPrice: '49.66666667' });
    expect(fills.at(-1)?.position).toMatchObject({ quantity: '150' });
    // The same bar again: the order is filled, and the fill ids are taken anyway.
    expect(await broker.processBar('paper', bars[1]!)).toEqual([]);
    // A bar from before the order existed is offered to nobody.
    const late = (await orders.place({ accountId: 'paper', symbol: 'PAPR', side: 'sell', quantity: '1' })).order;
    await orders.submit('paper', late.id);
    expect(await broker.processBar('paper', { ...bars[2]!, ts: new Date(Date.now() - 3_600_000) })).toEqual([]);
    expect((await orders.get('paper', other.id))?.status).toBe('submitted');
    const { rows } = await trading.admin.query("SELECT executed_at FROM execution.trades WHERE symbol = 'PAPR' ORDER BY id");
    expect(rows.map((row) => row.executed_at)).toEqual([bars[1]!.ts, bars[2]!.ts]);
  });
});
