import type { Queryable } from '../../db/queryable.ts';
import type { OrderEventRow, OrderRow, OrderStatus } from './order-table.ts';

/**
 * An order's columns as OrderRow, qualified by `table` where a statement joins another (or a
 * composite value such as `(r.order_row)`), each alias preceded by `prefix` where one statement
 * returns several rows side by side.
 */
export function orderColumns(table = 'execution.orders', prefix = ''): string {
  const t = table;
  const p = prefix;
  return `${t}.account_id AS "${p}accountId", ${t}.id::float8 AS "${p}id", ${t}.client_order_id AS "${p}clientOrderId",
  ${t}.broker_order_id AS "${p}brokerOrderId", ${t}.symbol AS "${p}symbol", ${t}.side AS "${p}side", ${t}.order_type AS "${p}orderType",
  ${t}.time_in_force AS "${p}timeInForce", trim_scale(${t}.quantity)::text AS "${p}quantity", trim_scale(${t}.limit_price)::text AS "${p}limitPrice",
  trim_scale(${t}.stop_price)::text AS "${p}stopPrice", ${t}.status AS "${p}status", trim_scale(${t}.filled_quantity)::text AS "${p}filledQuantity",
  trim_scale(${t}.average_fill_price)::text AS "${p}averageFillPrice", ${t}.strategy_id::float8 AS "${p}strategyId",
  ${t}.signal_id::float8 AS "${p}signalId", ${t}.version AS "${p}version", ${t}.created_at AS "${p}createdAt", ${t}.updated_at AS "${p}updatedAt"`;
}
export const ORDER_COLUMNS = orderColumns();

/** SQL for execution.orders and order_events; every function joins the caller's transaction. */
export const orderRepository = {
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
