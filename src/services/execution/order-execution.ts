import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { RiskRejectedError } from './execution-errors.ts';
import { type FillInput, type FillOutcome, parseFill, recordFillInTransaction } from './fill-service.ts';
import { type NewOrderInput, parseNewOrder } from './order-input.ts';
import { changeStatusInTransaction, type PlacementOutcome, placeInTransaction } from './order-service.ts';

/**
 * The whole life of an order that fills at once — placed, risk-checked, submitted, filled (trade,
 * order, position, events) — in one transaction: the paper broker's immediate fills, and the
 * order-flow benchmark's unit of work. A risk rejection commits the rejected order and its risk
 * events and throws RiskRejectedError; any other failure leaves nothing.
 */
export async function executeOrder(pool: pg.Pool, orderInput: NewOrderInput, fillInput: Omit<FillInput, 'accountId' | 'orderId'>): Promise<FillOutcome> {
  const order = parseNewOrder(orderInput);
  const fill = parseFill(fillInput);
  const outcome = await withAccountTransaction(pool, order.accountId, async (client): Promise<{ rejected: PlacementOutcome } | { filled: FillOutcome }> => {
    const placed = await placeInTransaction(client, order);
    if (placed.breaches.length > 0) return { rejected: placed };
    if (!placed.created) return { filled: await recordFillInTransaction(client, order.accountId, placed.order.id, fill) };
    await changeStatusInTransaction(client, order.accountId, placed.order.id, 'submitted', 'submitted to the paper broker');
    return { filled: await recordFillInTransaction(client, order.accountId, placed.order.id, fill) };
  });
  if ('rejected' in outcome) throw new RiskRejectedError(outcome.rejected.order.id, outcome.rejected.breaches);
  return outcome.filled;
}
