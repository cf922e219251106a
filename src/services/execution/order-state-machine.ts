import type { OrderStatus } from './order-table.ts';

/**
 * Every legal change of an order's status. A status missing from a row's list cannot follow it;
 * filled, cancelled, rejected and expired are final. partially_filled → partially_filled (and
 * pending_cancel → pending_cancel) is a further partial fill.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['submitted', 'cancelled', 'rejected'],
  submitted: ['partially_filled', 'pending_cancel', 'filled', 'cancelled', 'rejected', 'expired'],
  partially_filled: ['partially_filled', 'pending_cancel', 'filled', 'cancelled', 'expired'],
  // A cancel asked of a broker races its fills: the order still takes them until the broker
  // confirms the cancel (or fills it completely).
  pending_cancel: ['pending_cancel', 'filled', 'cancelled', 'expired'],
  filled: [],
  cancelled: [],
  rejected: [],
  expired: [],
};

/** Statuses from which an order can still trade or be cancelled. */
export const OPEN_STATUSES: readonly OrderStatus[] = ['pending', 'submitted', 'partially_filled', 'pending_cancel'];

/** OPEN_STATUSES as an SQL list, for `status IN ${OPEN_STATUS_SQL}`. */
export const OPEN_STATUS_SQL = `(${OPEN_STATUSES.map((status) => `'${status}'`).join(', ')})`;

/** The status after a fill: filled when nothing remains, else a partial fill (a pending cancel stays pending). */
export function statusAfterFill(current: OrderStatus, complete: boolean): OrderStatus {
  if (complete) return 'filled';
  return current === 'pending_cancel' ? 'pending_cancel' : 'partially_filled';
}

/** Whether an order in this status takes fills. */
export function takesFills(status: OrderStatus): boolean {
  return canTransition(status, 'filled');
}

/** An order was asked to move to a status that cannot follow its current one. */
export class IllegalTransitionError extends Error {
  constructor(readonly orderId: number, readonly from: OrderStatus, readonly to: OrderStatus) {
    super(`Order ${orderId} is ${from.replace('_', ' ')}; it cannot become ${to.replace('_', ' ')}${isFinal(from) ? ' (that status is final)' : ''}.`);
    this.name = 'IllegalTransitionError';
  }
}

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export function isFinal(status: OrderStatus): boolean {
  return ORDER_TRANSITIONS[status].length === 0;
}
