import { serviceLogger } from '../logging/logger.ts';
import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import type { Queryable } from '../../db/queryable.ts';
import { statementTransactions } from '../../db/transaction.ts';
import type { RiskBreach } from '../risk-management/risk-limit-table.ts';
import { RiskRejectedError } from './execution-errors.ts';
import { callOrderFlow, prefixed } from './order-flow-sql.ts';
import { type NewOrder, type NewOrderInput, parseNewOrder } from './order-input.ts';
import { orderColumns, orderRepository } from './order-repository.ts';
import { OPEN_STATUSES } from './order-state-machine.ts';
import type { OrderEventRow, OrderRow, OrderStatus } from './order-table.ts';

export interface PlacedOrder {
  order: OrderRow;
  /** False when the client order id was already used for this same order: the call was a retry. */
  created: boolean;
}

/**
 * Orders: placing (idempotent by client order id), submitting, cancelling and reading, each in
 * one transaction scoped to the order's account. Every status change goes through the
 * transition table and appends an order event in the same transaction.
 */
export class OrderService {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Places an order after the pre-trade risk check, in one transaction. An order the check
   * refuses is stored as rejected, with its events and a risk event per breach, and the call
   * throws RiskRejectedError once that is committed.
   */
  async place(input: NewOrderInput): Promise<PlacedOrder> {
    const order = parseNewOrder(input);
    const placed = await placeInTransaction(statementTransactions(this.pool), order);
    const logged = { accountId: order.accountId, orderId: placed.order.id, clientOrderId: order.clientOrderId, symbol: order.symbol, side: order.side, quantity: order.quantity, signalId: order.signalId };
    if (placed.breaches.length > 0) {
      serviceLogger('execution').warn({ ...logged, breaches: placed.breaches }, `order ${placed.order.id} rejected by the risk check`);
      throw new RiskRejectedError(placed.order.id, placed.breaches);
    }
    if (placed.created) serviceLogger('execution').info({ ...logged, status: placed.order.status }, `order ${placed.order.id} placed`);
    // A retry of an order the risk check rejected is rejected again, for the reasons recorded then.
    if (placed.order.status === 'rejected') throw new RiskRejectedError(placed.order.id, await this.recordedBreaches(order.accountId, placed.order.id));
    return { order: placed.order, created: placed.created };
  }

  private async recordedBreaches(accountId: string, orderId: number): Promise<Array<{ type: string; detail: string }>> {
    const rejection = (await this.events(accountId, orderId)).find((event) => event.toStatus === 'rejected');
    const breaches = (rejection?.payload as { breaches?: Array<{ type: string; detail: string }> } | undefined)?.breaches;
    return breaches ?? [{ type: 'rejected', detail: rejection?.reason ?? 'rejected' }];
  }

  /** pending → submitted, recording the broker's id for the order. */
  async submit(accountId: string, orderId: number, brokerOrderId?: string): Promise<OrderRow> {
    return changeStatusInTransaction(statementTransactions(this.pool), accountId, orderId, 'submitted', 'submitted to the broker', { brokerOrderId });
  }

  /**
   * Cancels an open order. With `expectedVersion` (a user-facing edit of the order the user saw),
   * a version that moved meanwhile — a fill arrived — raises ConcurrentUpdateError instead.
   */
  async cancel(accountId: string, orderId: number, options: { expectedVersion?: number; reason?: string } = {}): Promise<OrderRow> {
    return changeStatusInTransaction(statementTransactions(this.pool), accountId, orderId, 'cancelled', options.reason ?? 'cancelled by request', { expectedVersion: options.expectedVersion });
  }

  /**
   * Asks for a cancel that a broker must confirm: the order becomes pending_cancel and still
   * takes the fills that race the request; confirmCancel (on the broker's word) ends it.
   */
  async requestCancel(accountId: string, orderId: number, options: { expectedVersion?: number } = {}): Promise<OrderRow> {
    return changeStatusInTransaction(statementTransactions(this.pool), accountId, orderId, 'pending_cancel', 'cancel requested from the broker', options);
  }

  async confirmCancel(accountId: string, orderId: number): Promise<OrderRow> {
    return changeStatusInTransaction(statementTransactions(this.pool), accountId, orderId, 'cancelled', 'cancel confirmed by the broker');
  }

  async get(accountId: string, orderId: number): Promise<OrderRow | undefined> {
    return withAccountTransaction(this.pool, accountId, (client) => orderRepository.find(client, accountId, orderId), { readOnly: true });
  }

  async list(accountId: string, options: { open?: boolean; limit?: number } = {}): Promise<OrderRow[]> {
    return withAccountTransaction(this.pool, accountId, (client) => orderRepository.list(client, accountId, { statuses: options.open ? OPEN_STATUSES : undefined, limit: options.limit }), { readOnly: true });
  }

  async events(accountId: string, orderId: number): Promise<OrderEventRow[]> {
    return withAccountTransaction(this.pool, accountId, (client) => orderRepository.events(client, accountId, orderId), { readOnly: true });
  }
}

/** What placing found: the order, whether it is new, and the risk breaches that rejected it (if any). */
export interface PlacementOutcome extends PlacedOrder {
  breaches: RiskBreach[];
}

/**
 * Places a validated order as one call of execution.place_order (inside the caller's
 * transaction if it has one): the order and its first event, then the pre-trade check; breaches
 * reject it in the same transaction, with an event and a risk event each. A used client order id
 * returns the stored order if it is the same order, else DuplicateClientOrderIdError.
 */
async function placeInTransaction(db: Queryable, order: NewOrder): Promise<PlacementOutcome> {
  const [row] = await callOrderFlow(db, 'place_order', `SELECT ${orderColumns('(r.order_row)', 'order.')}, r.created, r.breaches FROM execution.place_order(${placeOrderArguments(1)}) AS r`, placeOrderValues(order));
  return { order: prefixed<OrderRow>(row!, 'order.')!, created: row!.created as boolean, breaches: row!.breaches as RiskBreach[] };
}

/** `$first, …` for the eleven arguments of execution.place_order (execute_order's first eleven). */
export function placeOrderArguments(first: number): string {
  return Array.from({ length: 11 }, (_, index) => `$${first + index}`).join(', ');
}

export function placeOrderValues(order: NewOrder): unknown[] {
  return [order.accountId, order.clientOrderId, order.symbol, order.side, order.orderType, order.timeInForce, order.quantity, order.limitPrice, order.stopPrice, order.strategyId, order.signalId];
}

/**
 * Moves an order to `to` as one call of execution.change_order_status: locked, checked against
 * the transition table (IllegalTransitionError), event appended; with expectedVersion, a version
 * that moved raises ConcurrentUpdateError.
 */
async function changeStatusInTransaction(db: Queryable, accountId: string, orderId: number, to: OrderStatus, reason: string, options: { expectedVersion?: number; brokerOrderId?: string } = {}): Promise<OrderRow> {
  const [row] = await callOrderFlow<OrderRow & Record<string, unknown>>(db, 'change_order_status', `SELECT ${orderColumns('r')} FROM execution.change_order_status($1, $2, $3, $4, $5, $6) AS r`, [
    accountId,
    orderId,
    to,
    reason,
    options.expectedVersion ?? null,
    options.brokerOrderId ?? null,
  ]);
  return row!;
}
