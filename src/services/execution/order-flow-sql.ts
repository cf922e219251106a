import { DatabaseError, isServerError } from '../../db/errors.ts';
import type { Queryable } from '../../db/queryable.ts';
import { ConcurrentUpdateError, DuplicateClientOrderIdError, FillRejectedError, NotFoundError } from './execution-errors.ts';
import { orderColumns } from './order-repository.ts';
import { IllegalTransitionError } from './order-state-machine.ts';
import type { OrderRow, PositionRow, TradeRow } from './order-table.ts';
import { positionColumns } from './position-repository.ts';
import { tradeColumns } from './trade-columns.ts';

/**
 * What the services need to call the order-flow functions of sql/migrations/0001_order_flow_functions.sql: their
 * errors as the typed errors callers catch, and their composite results as rows.
 */

/** The typed error for an order-flow SQLSTATE (class TD, facts as JSON in DETAIL); anything else unchanged. */
export function orderFlowError(error: unknown): unknown {
  const code = error instanceof DatabaseError ? error.sqlstate : isServerError(error) ? error.code : undefined;
  if (code === undefined || !code.startsWith('TD')) return error;
  const { message, detail } = error as Error & { detail?: string };
  // The facts' shape is fixed per SQLSTATE by sql/migrations/0001_order_flow_functions.sql.
  const facts: any = detail ? JSON.parse(detail) : {};
  switch (code) {
    case 'TDNF1':
      return new NotFoundError(facts.what, facts.key);
    case 'TDDC1':
      return new DuplicateClientOrderIdError(facts.clientOrderId, facts.differences);
    case 'TDFR1':
      return new FillRejectedError(message);
    case 'TDIT1':
      return new IllegalTransitionError(facts.orderId, facts.from, facts.to);
    case 'TDCU1':
      return new ConcurrentUpdateError(facts.what, facts.expectedVersion);
    default:
      return error;
  }
}

/**
 * Runs one order-flow call as a prepared statement named `name` (parsed and planned once per
 * connection: these run on every order and fill), its errors typed.
 */
export async function callOrderFlow<R extends Record<string, unknown>>(db: Queryable, name: string, text: string, values: unknown[]): Promise<R[]> {
  try {
    return (await db.query<R>({ name: `tradedb.${name}`, text, values })).rows;
  } catch (error) {
    throw orderFlowError(error);
  }
}

/** The select list of a function returning trade_row, order_row, position_row and duplicate, as `r`. */
export const FILL_RESULT_COLUMNS = `${tradeColumns('(r.trade_row)', 'trade.')}, ${orderColumns('(r.order_row)', 'order.')},
  ${positionColumns('(r.position_row)', 'position.')}, r.duplicate`;

export interface FillOutcome {
  /** True when this fill id was already recorded: nothing changed. */
  duplicate: boolean;
  trade: TradeRow;
  order: OrderRow;
  /** The position after the fill (undefined for a duplicate). */
  position?: PositionRow;
}

/** A FILL_RESULT_COLUMNS row as its trade, order and position. */
export function fillOutcome(row: Record<string, unknown>): FillOutcome {
  return { duplicate: row.duplicate as boolean, trade: prefixed<TradeRow>(row, 'trade.')!, order: prefixed<OrderRow>(row, 'order.')!, position: prefixed<PositionRow>(row, 'position.') };
}

/** The columns of `row` named `prefix…`, without the prefix; undefined where the composite was null. */
export function prefixed<T>(row: Record<string, unknown>, prefix: string): T | undefined {
  const picked: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) if (name.startsWith(prefix)) picked[name.slice(prefix.length)] = value;
  return picked.accountId === null || picked.accountId === undefined ? undefined : (picked as T);
}
