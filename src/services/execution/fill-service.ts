import { serviceLogger } from '../logging/logger.ts';
import type pg from 'pg';
import type { Queryable } from '../../db/queryable.ts';
import { statementTransactions } from '../../db/transaction.ts';
import { OrderInputError } from './execution-errors.ts';
import { callOrderFlow, FILL_RESULT_COLUMNS, type FillOutcome, fillOutcome } from './order-flow-sql.ts';
import { positivePrice, positiveQuantity } from './order-input.ts';
import type { NewFill } from './trade-columns.ts';

export type { FillOutcome } from './order-flow-sql.ts';

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
  const outcome = await recordFillInTransaction(statementTransactions(pool), input.accountId, input.orderId, parseFill(input));
  if (!outcome.duplicate) {
    serviceLogger('execution').info(
      { accountId: input.accountId, orderId: input.orderId, tradeId: outcome.trade.id, quantity: outcome.trade.quantity, price: outcome.trade.price, orderStatus: outcome.order.status, position: outcome.position?.quantity },
      `fill of order ${input.orderId} recorded`,
    );
  }
  return outcome;
}

/** recordFill's work as one call of execution.record_fill, inside the caller's transaction if it has one. */
async function recordFillInTransaction(client: Queryable, accountId: string, orderId: number, fill: NewFill): Promise<FillOutcome> {
  const [row] = await callOrderFlow(client, 'record_fill', `SELECT ${FILL_RESULT_COLUMNS} FROM execution.record_fill($1, $2, $3, $4, $5, $6, $7) AS r`, [
    accountId,
    orderId,
    fill.brokerFillId,
    fill.quantity,
    fill.price,
    fill.fees,
    fill.executedAt,
  ]);
  return fillOutcome(row!);
}
