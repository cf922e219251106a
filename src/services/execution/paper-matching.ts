import { compareDecimals, fromUnits, parseDecimal, toUnits } from '../../shared/decimal-text.ts';
import type { OrderRow } from './order-table.ts';

/** The part of a bar the paper broker looks at; prices and volume as decimal text. */
export interface MatchingBar {
  open: string;
  high: string;
  low: string;
  volume: string;
}

export interface PaperFill {
  quantity: string;
  price: string;
}

/** How much of a bar's volume one order may take (default 10 %): big orders fill over several bars. */
export const DEFAULT_PARTICIPATION = 0.1;

const lessOrEqual = (a: string, b: string) => compareDecimals(parseDecimal(a)!, parseDecimal(b)!) <= 0;
const lower = (a: string, b: string) => (lessOrEqual(a, b) ? a : b);
const higher = (a: string, b: string) => (lessOrEqual(a, b) ? b : a);

/**
 * Where an order would trade in a bar, or undefined. Market orders take the bar's open. A buy
 * limit trades when the low reaches the limit, at the open if the bar opened below it, else at
 * the limit (sells mirror this). A stop triggers when the bar reaches it and then trades like a
 * market order at the worse of open and stop; a stop-limit, once triggered, trades like a limit.
 */
export function matchPrice(order: Pick<OrderRow, 'side' | 'orderType' | 'limitPrice' | 'stopPrice'>, bar: MatchingBar): string | undefined {
  const buy = order.side === 'buy';
  const limitFill = (limit: string, from: string): string | undefined => {
    if (buy) return lessOrEqual(bar.low, limit) ? lower(from, limit) : undefined;
    return lessOrEqual(limit, bar.high) ? higher(from, limit) : undefined;
  };
  switch (order.orderType) {
    case 'market':
      return bar.open;
    case 'limit':
      return limitFill(order.limitPrice!, bar.open);
    case 'stop':
    case 'stop_limit': {
      const stop = order.stopPrice!;
      const triggered = buy ? lessOrEqual(stop, bar.high) : lessOrEqual(bar.low, stop);
      if (!triggered) return undefined;
      const triggerPrice = buy ? higher(bar.open, stop) : lower(bar.open, stop);
      return order.orderType === 'stop' ? triggerPrice : limitFill(order.limitPrice!, triggerPrice);
    }
  }
}

/**
 * The fill a bar gives an order: its price by matchPrice, its quantity the remainder of the
 * order capped at `participation` of the bar's volume (whole 10^-8 units, rounded down).
 */
export function matchOrder(order: Pick<OrderRow, 'side' | 'orderType' | 'limitPrice' | 'stopPrice' | 'quantity' | 'filledQuantity'>, bar: MatchingBar, participation = DEFAULT_PARTICIPATION): PaperFill | undefined {
  const price = matchPrice(order, bar);
  if (price === undefined) return undefined;
  const remaining = toUnits(order.quantity) - toUnits(order.filledQuantity);
  const volumeUnits = toUnits(bar.volume.includes('.') ? bar.volume.replace(/(\.\d{0,8})\d*$/, '$1') : bar.volume);
  const capacity = (volumeUnits * BigInt(Math.round(participation * 1_000_000))) / 1_000_000n;
  const quantity = remaining < capacity ? remaining : capacity;
  if (quantity <= 0n) return undefined;
  return { quantity: fromUnits(quantity), price };
}
