import type { Queryable } from '../../db/queryable.ts';
import type { NewOrder } from './order-input.ts';
import type { OrderEventRow, OrderRow, OrderStatus } from './order-table.ts';

/** An order's columns as OrderRow, qualified by `table` where a statement joins another. */
export function orderColumns(table = 'execution.orders'): string {
  const t = table;
  return `${t}.account_id AS "accountId", ${t}.id::float8 AS id, ${t}.client_order_id AS "clientOrderId",
  ${t}.broker_order_id AS "brokerOrderId", ${t}.symbol, ${t}.side, ${t}.order_type AS "orderType", ${t}.time_in_force AS "timeInForce",
  trim_scale(${t}.quantity)::text AS quantity, trim_scale(${t}.limit_price)::text AS "limitPrice",
  trim_scale(${t}.stop_price)::text AS "stopPrice", ${t}.status, trim_scale(${t}.filled_quantity)::text AS "filledQuantity",
  trim_scale(${t}.average_fill_price)::text AS "averageFillPrice", ${t}.strategy_id::float8 AS "strategyId",
  ${t}.signal_id::float8 AS "signalId", ${t}.version, ${t}.created_at AS "createdAt", ${t}.updated_at AS "updatedAt"`;
}
export const ORDER_COLUMNS = orderColumns();

/** SQL for execution.orders and order_events; every function joins the caller's transaction. */
export const orderRepository = {
  /** Inserts the order unless its client order id exists; returns undefined then. */
  async insert(db: Queryable, order: NewOrder): Promise<OrderRow | undefined> {
    const { rows } = await db.query<OrderRow>(
      `INSERT INTO execution.orders (account_id, client_order_id, symbol, side, order_type, time_in_force,
                                     quantity, limit_price, stop_price, strategy_id, signal_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (account_id, client_order_id) DO NOTHING
       RETURNING ${ORDER_COLUMNS}`,
      [order.accountId, order.clientOrderId, order.symbol, order.side, order.orderType, order.timeInForce, order.quantity, order.limitPrice, order.stopPrice, order.strategyId, order.signalId],
    );
    return rows[0];
  },

  async find(db: Queryable, accountId: string, orderId: number, options: { forUpdate?: boolean } = {}): Promise<OrderRow | undefined> {
    const { rows } = await db.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM execution.orders WHERE account_id = $1 AND id = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [accountId, orderId],
    );
    return rows[0];
  },

  async findByClientOrderId(db: Queryable, accountId: string, clientOrderId: string): Promise<OrderRow | undefined> {
    const { rows } = await db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM execution.orders WHERE account_id = $1 AND client_order_id = $2`, [accountId, clientOrderId]);
    return rows[0];
  },

  async list(db: Queryable, accountId: string, options: { statuses?: readonly OrderStatus[]; limit?: number } = {}): Promise<OrderRow[]> {
    const { rows } = await db.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM execution.orders
        WHERE account_id = $1 AND ($2::text[] IS NULL OR status = ANY($2))
        ORDER BY id DESC LIMIT $3`,
      [accountId, options.statuses ?? null, options.limit ?? 100],
    );
    return rows;
  },

  /** Moves the order to `status` if it is still at `expectedVersion`; undefined when someone got there first. */
  async setStatus(db: Queryable, order: Pick<OrderRow, 'accountId' | 'id' | 'version'>, status: OrderStatus, changes: { brokerOrderId?: string } = {}): Promise<OrderRow | undefined> {
    const { rows } = await db.query<OrderRow>(
      `UPDATE execution.orders
          SET status = $4, version = version + 1, broker_order_id = coalesce($5, broker_order_id),
              submitted_at = CASE WHEN $4 = 'submitted' THEN now() ELSE submitted_at END
        WHERE account_id = $1 AND id = $2 AND version = $3
        RETURNING ${ORDER_COLUMNS}`,
      [order.accountId, order.id, order.version, status, changes.brokerOrderId ?? null],
    );
    return rows[0];
  },

  /** Adds a fill to the order: filled quantity, volume-weighted average price, status, version. */
  async applyFill(db: Queryable, order: Pick<OrderRow, 'accountId' | 'id' | 'version'>, quantity: string, price: string, status: OrderStatus): Promise<OrderRow | undefined> {
    const { rows } = await db.query<OrderRow>(
      `UPDATE execution.orders
          SET average_fill_price = round((coalesce(average_fill_price, 0) * filled_quantity + $4::numeric * $5::numeric)
                                         / (filled_quantity + $4::numeric), 8),
              filled_quantity = filled_quantity + $4::numeric, status = $6, version = version + 1
        WHERE account_id = $1 AND id = $2 AND version = $3
        RETURNING ${ORDER_COLUMNS}`,
      [order.accountId, order.id, order.version, quantity, price, status],
    );
    return rows[0];
  },

  async appendEvent(db: Queryable, event: { accountId: string; orderId: number; fromStatus: OrderStatus | null; toStatus: OrderStatus; reason: string; payload?: Record<string, unknown> }): Promise<void> {
    await db.query(
      `INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason, payload)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [event.accountId, event.orderId, event.fromStatus, event.toStatus, event.reason, JSON.stringify(event.payload ?? {})],
    );
  },

  async events(db: Queryable, accountId: string, orderId: number): Promise<OrderEventRow[]> {
    const { rows } = await db.query<OrderEventRow>(
      `SELECT id::float8 AS id, order_id::float8 AS "orderId", from_status AS "fromStatus", to_status AS "toStatus",
              reason, occurred_at AS "occurredAt", payload
         FROM execution.order_events WHERE account_id = $1 AND order_id = $2 ORDER BY id`,
      [accountId, orderId],
    );
    return rows;
  },
};
