import type pg from 'pg';
import { statementTransactions } from '../../db/transaction.ts';
import { RiskRejectedError } from './execution-errors.ts';
import { type FillInput, type FillOutcome, parseFill } from './fill-service.ts';
import { callOrderFlow, FILL_RESULT_COLUMNS, fillOutcome, prefixed } from './order-flow-sql.ts';
import { type NewOrderInput, parseNewOrder } from './order-input.ts';
import type { OrderRow } from './order-table.ts';
import { placeOrderArguments, placeOrderValues } from './order-service.ts';
import type { RiskBreach } from '../risk-management/risk-limit-table.ts';

/**
 * The whole life of an order that fills at once — placed, risk-checked, submitted, filled (trade,
 * order, position, events) — as one statement, one transaction, one round trip
 * (execution.execute_order): the paper broker's immediate fills, and the order-flow benchmark's
 * unit of work. A risk rejection commits the rejected order and its risk events and throws
 * RiskRejectedError; any other failure leaves nothing.
 */
export async function executeOrder(pool: pg.Pool, orderInput: NewOrderInput, fillInput: Omit<FillInput, 'accountId' | 'orderId'>): Promise<FillOutcome> {
  const order = parseNewOrder(orderInput);
  const fill = parseFill(fillInput);
  const [row] = await callOrderFlow(statementTransactions(pool), 'execute_order', `SELECT ${FILL_RESULT_COLUMNS}, r.breaches FROM execution.execute_order(${placeOrderArguments(1)}, $12, $13, $14, $15, $16) AS r`, [
    ...placeOrderValues(order),
    fill.brokerFillId,
    fill.quantity,
    fill.price,
    fill.fees,
    fill.executedAt,
  ]);
  const breaches = row!.breaches as RiskBreach[];
  if (breaches.length > 0) throw new RiskRejectedError(prefixed<OrderRow>(row!, 'order.')!.id, breaches);
  return fillOutcome(row!);
}
