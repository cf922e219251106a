import { z } from 'zod';
import { formatDecimal, isZero, parseDecimal } from '../../shared/decimal-text.ts';
import { OrderInputError } from './execution-errors.ts';
import { ORDER_SIDES, ORDER_TYPES, type OrderRow, type OrderSide, type OrderType, TIMES_IN_FORCE, type TimeInForce } from './order-table.ts';

/** numeric(28,8) quantities and numeric(20,8) prices: digits before and after the point. */
const QUANTITY = { whole: 20, scale: 8 };
const PRICE = { whole: 12, scale: 8 };

/**
 * A positive exact decimal as canonical text, or an OrderInputError naming `field`. Numbers are
 * accepted as text only (a JS number has already lost digits); too many decimals are refused,
 * not rounded, because rounding a quantity silently changes the order.
 */
export function positiveDecimal(field: string, value: unknown, digits: { whole: number; scale: number }): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw new OrderInputError(field, 'is required');
  const text = String(value).trim();
  const parsed = parseDecimal(text);
  if (!parsed) throw new OrderInputError(field, `${JSON.stringify(text)} is not a decimal number`);
  if (parsed.negative || isZero(parsed)) throw new OrderInputError(field, `must be above zero, got ${text}`);
  if (parsed.fraction.length > digits.scale) throw new OrderInputError(field, `has ${parsed.fraction.length} decimals; at most ${digits.scale} are allowed`);
  if (parsed.whole.length > digits.whole) throw new OrderInputError(field, `is too large (at most ${digits.whole} digits before the point)`);
  return formatDecimal(parsed);
}

export const positiveQuantity = (field: string, value: unknown) => positiveDecimal(field, value, QUANTITY);
export const positivePrice = (field: string, value: unknown) => positiveDecimal(field, value, PRICE);

/** What a caller gives to place an order. */
export interface NewOrderInput {
  accountId: string;
  /** The idempotency key; default: a random UUID (so a retried call must pass the one it got back). */
  clientOrderId?: string;
  symbol: string;
  side: OrderSide;
  orderType?: OrderType;
  timeInForce?: TimeInForce;
  quantity: string | number;
  limitPrice?: string | number | null;
  stopPrice?: string | number | null;
  strategyId?: number | null;
  signalId?: number | null;
}

/** A validated order, values canonical: the caller-chosen fields of an order row. */
export type NewOrder = Pick<OrderRow, 'accountId' | 'clientOrderId' | 'symbol' | 'side' | 'orderType' | 'timeInForce' | 'quantity' | 'limitPrice' | 'stopPrice' | 'strategyId' | 'signalId'>;

const shape = z.object({
  accountId: z.string().trim().min(1, 'is required'),
  clientOrderId: z.string().trim().min(1).max(128).optional(),
  symbol: z.string().trim().min(1, 'is required').transform((text) => text.toUpperCase()),
  side: z.enum(ORDER_SIDES),
  orderType: z.enum(ORDER_TYPES).default('market'),
  timeInForce: z.enum(TIMES_IN_FORCE).default('day'),
  strategyId: z.number().int().positive().nullish(),
  signalId: z.number().int().positive().nullish(),
});

/** Validates an order's fields, naming the first one at fault; writes nothing. */
export function parseNewOrder(input: NewOrderInput): NewOrder {
  const result = shape.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new OrderInputError(issue.path.join('.') || 'order', issue.message);
  }
  const order = result.data;
  const needsLimit = order.orderType === 'limit' || order.orderType === 'stop_limit';
  const needsStop = order.orderType === 'stop' || order.orderType === 'stop_limit';
  const given = (value: unknown) => value !== undefined && value !== null && value !== '';
  if (needsLimit && !given(input.limitPrice)) throw new OrderInputError('limitPrice', `a ${order.orderType} order needs a limit price`);
  if (!needsLimit && given(input.limitPrice)) throw new OrderInputError('limitPrice', `a ${order.orderType} order takes no limit price`);
  if (needsStop && !given(input.stopPrice)) throw new OrderInputError('stopPrice', `a ${order.orderType} order needs a stop price`);
  if (!needsStop && given(input.stopPrice)) throw new OrderInputError('stopPrice', `a ${order.orderType} order takes no stop price`);
  return {
    accountId: order.accountId,
    clientOrderId: order.clientOrderId ?? crypto.randomUUID(),
    symbol: order.symbol,
    side: order.side,
    orderType: order.orderType,
    timeInForce: order.timeInForce,
    quantity: positiveQuantity('quantity', input.quantity),
    limitPrice: needsLimit ? positivePrice('limitPrice', input.limitPrice) : null,
    stopPrice: needsStop ? positivePrice('stopPrice', input.stopPrice) : null,
    strategyId: order.strategyId ?? null,
    signalId: order.signalId ?? null,
  };
}
