import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import type { Queryable } from '../../db/queryable.ts';
import { fromUnits, toUnits } from '../../shared/decimal-text.ts';
import { FillRejectedError, NotFoundError, OrderInputError } from './execution-errors.ts';
import { positivePrice, positiveQuantity } from './order-input.ts';
import { orderRepository } from './order-repository.ts';
import { assertTransition, statusAfterFill, takesFills } from './order-state-machine.ts';
import type { OrderRow, PositionRow, TradeRow } from './order-table.ts';
import { positionRepository } from './position-repository.ts';
import { type NewFill, tradeRepository } from './trade-repository.ts';

export interface FillInput {
  accountId: string;
  orderId: number;
  /** The broker's id of this fill: the key that makes a redelivered fill count once. */
  brokerFillId: string;
  quantity: string | number;
  price: string | number;
  /** Default 0. */
  fees?: string | number;
  /** Default now. */
  executedAt?: Date;
}

export interface FillOutcome {
  /** True when this fill id was already recorded: nothing changed. */
  duplicate: boolean;
  trade: TradeRow;
  order: OrderRow;
  /** The position after the fill (undefined for a duplicate). */
  position?: PositionRow;
}

/** Validates a fill's fields, naming the one at fault. */
export function parseFill(input: Omit<FillInput, 'accountId' | 'orderId'>): NewFill {
  const brokerFillId = typeof input.brokerFillId === 'string' ? input.brokerFillId.trim() : '';
  if (brokerFillId === '') throw new OrderInputError('brokerFillId', 'is required');
  const fees = input.fees === undefined ? '0' : String(input.fees).trim();
  if (!/^\d+(\.\d{1,8})?$/.test(fees)) throw new OrderInputError('fees', `must be zero or more with at most 8 decimals, got ${JSON.stringify(fees)}`);
  return { brokerFillId, quantity: positiveQuantity('quantity', input.quantity), price: positivePrice('price', input.price), fees, executedAt: input.executedAt ?? new Date() };
}

/**
 * Records one fill in one transaction: the trade, the order's filled quantity, average price and
 * status, the position (average cost, realized P&L on reductions and flips), and the order event
 * — all of it or none. The order row is locked first, so fills of one order and a cancel racing
 * them queue; fills of different orders on one position queue on the position's row. A fill id
 * seen before returns the recorded trade and changes nothing.
 */
export async function recordFill(pool: pg.Pool, input: FillInput): Promise<FillOutcome> {
  const fill = parseFill(input);
  return withAccountTransaction(pool, input.accountId, (client) => recordFillInTransaction(client, input.accountId, input.orderId, fill));
}

/** recordFill's work inside the caller's transaction (acting for the account). */
export async function recordFillInTransaction(client: Queryable, accountId: string, orderId: number, fill: NewFill): Promise<FillOutcome> {
  const order = await orderRepository.find(client, accountId, orderId, { forUpdate: true });
  if (!order) throw new NotFoundError('order', `${orderId} of account ${accountId}`);

  const recorded = await tradeRepository.findByFillId(client, accountId, fill.brokerFillId);
  if (recorded) return sameFillAgain(recorded, order, fill);

  const remaining = toUnits(order.quantity) - toUnits(order.filledQuantity);
  if (!takesFills(order.status)) {
    throw new FillRejectedError(`Order ${order.id} is ${order.status.replace('_', ' ')}; it takes no fills${order.status === 'pending' ? ' before it is submitted' : ''}.`);
  }
  if (toUnits(fill.quantity) > remaining) {
    throw new FillRejectedError(`Fill ${fill.brokerFillId} of ${fill.quantity} is more than the ${fromUnits(remaining)} that remain of order ${order.id}.`);
  }
  const status = statusAfterFill(order.status, toUnits(fill.quantity) === remaining);
  assertTransition(order.id, order.status, status);

  const updated = (await orderRepository.applyFill(client, order, fill.quantity, fill.price, status))!;
  const signed = order.side === 'buy' ? fill.quantity : `-${fill.quantity}`;
  const { position, realized } = await positionRepository.applyFill(client, order.accountId, order.symbol, signed, fill.price, fill.fees);
  const trade = await tradeRepository.insert(client, order, fill, realized);
  // The order lock does not cover a fill id reused on another order at this instant.
  if (!trade) throw new FillRejectedError(`Fill ${fill.brokerFillId} was recorded meanwhile for another order; fill ids must be unique per account.`);
  await orderRepository.appendEvent(client, {
    accountId: order.accountId,
    orderId: order.id,
    fromStatus: order.status,
    toStatus: status,
    reason: 'fill',
    payload: { tradeId: trade.id, brokerFillId: fill.brokerFillId, quantity: fill.quantity, price: fill.price, fees: fill.fees },
  });
  return { duplicate: false, trade, order: updated, position };
}

/** A redelivered fill must be the same fill; a fill id reused for something else is an error. */
function sameFillAgain(recorded: TradeRow, order: OrderRow, fill: NewFill): FillOutcome {
  const same =
    recorded.orderId === order.id && toUnits(recorded.quantity) === toUnits(fill.quantity) && toUnits(recorded.price) === toUnits(fill.price) && toUnits(recorded.fees) === toUnits(fill.fees);
  if (!same) {
    throw new FillRejectedError(`Fill id ${fill.brokerFillId} is already recorded (order ${recorded.orderId}, ${recorded.quantity} at ${recorded.price}, fees ${recorded.fees}); this delivery differs.`);
  }
  return { duplicate: true, trade: recorded, order };
}
