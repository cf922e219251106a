import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import type { Queryable } from '../../db/queryable.ts';
import { checkOrder } from '../risk-management/pre-trade-check.ts';
import type { RiskBreach } from '../risk-management/risk-limit-table.ts';
import { ConcurrentUpdateError, DuplicateClientOrderIdError, NotFoundError, RiskRejectedError } from './execution-errors.ts';
import { type NewOrder, type NewOrderInput, parseNewOrder } from './order-input.ts';
import { orderRepository } from './order-repository.ts';
import { assertTransition, OPEN_STATUSES } from './order-state-machine.ts';
import type { OrderEventRow, OrderRow, OrderStatus } from './order-table.ts';

/** The fields that make two orders the same order (what a retry with the same client order id must repeat). */
const IDENTITY_FIELDS = ['symbol', 'side', 'orderType', 'timeInForce', 'quantity', 'limitPrice', 'stopPrice', 'strategyId', 'signalId'] as const;

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
    const placed = await withAccountTransaction(this.pool, order.accountId, (client) => placeInTransaction(client, order));
    if (placed.breaches.length > 0) throw new RiskRejectedError(placed.order.id, placed.breaches);
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
    return withAccountTransaction(this.pool, accountId, (client) => changeStatusInTransaction(client, accountId, orderId, 'submitted', 'submitted to the broker', { brokerOrderId }));
  }

  /**
   * Cancels an open order. With `expectedVersion` (a user-facing edit of the order the user saw),
   * a version that moved meanwhile — a fill arrived — raises ConcurrentUpdateError instead.
   */
  async cancel(accountId: string, orderId: number, options: { expectedVersion?: number; reason?: string } = {}): Promise<OrderRow> {
    return withAccountTransaction(this.pool, accountId, (client) => changeStatusInTransaction(client, accountId, orderId, 'cancelled', options.reason ?? 'cancelled by request', { expectedVersion: options.expectedVersion }));
  }

  /**
   * Asks for a cancel that a broker must confirm: the order becomes pending_cancel and still
   * takes the fills that race the request; confirmCancel (on the broker's word) ends it.
   */
  async requestCancel(accountId: string, orderId: number, options: { expectedVersion?: number } = {}): Promise<OrderRow> {
    return withAccountTransaction(this.pool, accountId, (client) => changeStatusInTransaction(client, accountId, orderId, 'pending_cancel', 'cancel requested from the broker', options));
  }

  async confirmCancel(accountId: string, orderId: number): Promise<OrderRow> {
    return withAccountTransaction(this.pool, accountId, (client) => changeStatusInTransaction(client, accountId, orderId, 'cancelled', 'cancel confirmed by the broker'));
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
 * Places a validated order inside the caller's transaction (acting for its account): the order
 * and its first event, then the pre-trade check; breaches reject it in the same transaction,
 * with an event and a risk event each. A used client order id returns the stored order.
 */
export async function placeInTransaction(client: Queryable, order: NewOrder): Promise<PlacementOutcome> {
  await requireAccountAndSymbol(client, order);
  const inserted = await orderRepository.insert(client, order);
  if (!inserted) return { order: await sameOrderAgain(client, order), created: false, breaches: [] };
  await orderRepository.appendEvent(client, { accountId: order.accountId, orderId: inserted.id, fromStatus: null, toStatus: 'pending', reason: 'placed' });
  const breaches = await checkOrder(client, order);
  if (breaches.length === 0) return { order: inserted, created: true, breaches };
  const rejected = (await orderRepository.setStatus(client, inserted, 'rejected'))!;
  await orderRepository.appendEvent(client, {
    accountId: order.accountId,
    orderId: inserted.id,
    fromStatus: 'pending',
    toStatus: 'rejected',
    reason: `risk check: ${breaches.map((breach) => breach.type).join(', ')}`,
    payload: { breaches },
  });
  for (const breach of breaches) {
    await client.query('SELECT risk_management.record_risk_event($1, $2, $3, $4, $5, $6, $7)', [
      order.accountId,
      breach.limitId,
      breach.type,
      breach.type === 'kill_switch' ? 'critical' : 'error',
      breach.detail,
      JSON.stringify({ ...breach.context, symbol: order.symbol, side: order.side, quantity: order.quantity }),
      inserted.id,
    ]);
  }
  return { order: rejected, created: true, breaches };
}

/** Moves an order to `to` inside the caller's transaction: locked, checked against the transition table, event appended. */
export async function changeStatusInTransaction(client: Queryable, accountId: string, orderId: number, to: OrderStatus, reason: string, options: { expectedVersion?: number; brokerOrderId?: string } = {}): Promise<OrderRow> {
  const order = await orderRepository.find(client, accountId, orderId, { forUpdate: true });
  if (!order) throw new NotFoundError('order', `${orderId} of account ${accountId}`);
  if (options.expectedVersion !== undefined && options.expectedVersion !== order.version) throw new ConcurrentUpdateError(`Order ${orderId}`, options.expectedVersion);
  assertTransition(orderId, order.status, to);
  // The row is locked, so its version cannot have moved since it was read.
  const updated = (await orderRepository.setStatus(client, order, to, { brokerOrderId: options.brokerOrderId }))!;
  await orderRepository.appendEvent(client, { accountId, orderId, fromStatus: order.status, toStatus: to, reason });
  return updated;
}
async function requireAccountAndSymbol(db: Queryable, order: NewOrder): Promise<void> {
  const { rows } = await db.query<{ account: boolean; symbol: boolean }>(
    `SELECT EXISTS (SELECT FROM shared.accounts WHERE account_id = $1 AND status = 'active') AS account,
            EXISTS (SELECT FROM data_ingestion.symbols WHERE symbol = $2 AND status = 'active') AS symbol`,
    [order.accountId, order.symbol],
  );
  if (!rows[0]!.account) throw new NotFoundError('account', `${order.accountId} (or it is not active)`);
  if (!rows[0]!.symbol) throw new NotFoundError('symbol', `${order.symbol} (or it is not active)`);
}

/** A retried placement: the stored order must be the same order, else the id was reused by mistake. */
async function sameOrderAgain(db: Queryable, order: NewOrder): Promise<OrderRow> {
  const existing = (await orderRepository.findByClientOrderId(db, order.accountId, order.clientOrderId))!;
  const differences = IDENTITY_FIELDS.filter((field) => String(existing[field] ?? '') !== String(order[field] ?? ''));
  if (differences.length > 0) throw new DuplicateClientOrderIdError(order.clientOrderId, [...differences]);
  return existing;
}
