import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { fromUnits, toUnits } from '../../shared/decimal-text.ts';
import { FillRejectedError, NotFoundError, OrderInputError } from './execution-errors.ts';
import { type FillInput, parseFill } from './fill-service.ts';
import { ORDER_COLUMNS } from './order-repository.ts';
import { statusAfterFill, takesFills } from './order-state-machine.ts';
import type { OrderRow, OrderStatus } from './order-table.ts';
import { applyFillToPosition, type PositionState, positionStateFromText, positionStateToText } from './position-math.ts';
import { positionRepository } from './position-repository.ts';
import type { NewFill } from './trade-columns.ts';

export interface BatchFillOutcome {
  /** Fills recorded by this call. */
  recorded: number;
  /** Fills whose id was recorded before (same content): counted once, skipped. */
  duplicates: number;
}

/** An order as the batch advances it, fill by fill. */
interface OrderProgress {
  row: OrderRow;
  filled: bigint;
  /** Σ quantity × price of all its fills, for the average fill price (10^-16 units). */
  value: bigint;
  status: OrderStatus;
  /** This batch's fills of the order, in the order applied (its one event lists them). */
  fills: NewFill[];
}

/**
 * Many fills of one account in one transaction, with the guarantees of recordFill — each fill
 * id counted once, no fill beyond an order's remainder or on a finished order, positions by the
 * same formula, every fill in an order event — in a fixed number of statements whatever the batch size:
 * lock the orders and positions (in id and symbol order), apply the fills in the order given in
 * memory, then write trades, orders, positions and events with one statement each — one event
 * per order and batch, listing its fills, where recordFill writes one per fill. Any bad fill
 * rejects the whole batch, naming its index. For brokers that report fills in bulk and for
 * replays.
 */
export async function recordFills(pool: pg.Pool, accountId: string, inputs: ReadonlyArray<Omit<FillInput, 'accountId'>>): Promise<BatchFillOutcome> {
  const fills = inputs.map((input, index) => {
    try {
      return { orderId: input.orderId, ...parseFill(input) };
    } catch (error) {
      if (error instanceof OrderInputError) throw new OrderInputError(`fills[${index}].${error.field}`, error.message.slice(error.field.length + 2));
      throw error;
    }
  });
  if (fills.length === 0) return { recorded: 0, duplicates: 0 };
  return withAccountTransaction(pool, accountId, async (client) => {
    const orderIds = [...new Set(fills.map((fill) => fill.orderId))].sort((a, b) => a - b);
    const { rows: orderRows } = await client.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM execution.orders WHERE account_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`, [accountId, orderIds]);
    const orders = new Map<number, OrderProgress>(
      orderRows.map((row) => [row.id, { row, filled: toUnits(row.filledQuantity), value: toUnits(row.filledQuantity) * toUnits(row.averageFillPrice ?? '0'), status: row.status, fills: [] }]),
    );
    const { rows: seen } = await client.query<{ fillId: string; orderId: number; quantity: string; price: string; fees: string }>(
      `SELECT broker_fill_id AS "fillId", order_id::float8 AS "orderId", trim_scale(quantity)::text AS quantity, trim_scale(price)::text AS price,
              trim_scale(fees)::text AS fees
         FROM execution.trades WHERE account_id = $1 AND broker_fill_id = ANY($2)`,
      [accountId, fills.map((fill) => fill.brokerFillId)],
    );
    const recordedBefore = new Map(seen.map((row) => [row.fillId, row]));
    const positions = new Map<string, PositionState>(
      (await positionRepository.lockMany(client, accountId, orderRows.map((row) => row.symbol))).map((row) => [row.symbol, positionStateFromText(row)]),
    );

    const trades: Array<NewFill & { orderId: number; symbol: string; side: string; realized: bigint }> = [];
    const inBatch = new Map<string, { orderId: number; quantity: string; price: string; fees: string }>();
    let duplicates = 0;
    fills.forEach((fill, index) => {
      const where = `fills[${index}] (${fill.brokerFillId})`;
      const order = orders.get(fill.orderId);
      if (!order) throw new NotFoundError('order', `${fill.orderId} of account ${accountId}, in ${where}`);
      const before = recordedBefore.get(fill.brokerFillId) ?? inBatch.get(fill.brokerFillId);
      if (before) {
        const same =
          before.orderId === fill.orderId && toUnits(before.quantity) === toUnits(fill.quantity) && toUnits(before.price) === toUnits(fill.price) && toUnits(before.fees) === toUnits(fill.fees);
        if (!same) throw new FillRejectedError(`${where}: the fill id is used for a different fill.`);
        duplicates += 1;
        return;
      }
      inBatch.set(fill.brokerFillId, fill);
      const quantity = toUnits(fill.quantity);
      const remaining = toUnits(order.row.quantity) - order.filled;
      if (!takesFills(order.status)) {
        throw new FillRejectedError(`${where}: order ${fill.orderId} is ${order.status.replace('_', ' ')}; it takes no fills.`);
      }
      if (quantity > remaining) throw new FillRejectedError(`${where}: ${fill.quantity} is more than the ${fromUnits(remaining)} that remain of order ${fill.orderId}.`);
      const to = statusAfterFill(order.status, quantity === remaining);
      order.fills.push(fill);
      order.filled += quantity;
      order.value += quantity * toUnits(fill.price);
      order.status = to;
      const signed = order.row.side === 'buy' ? quantity : -quantity;
      const applied = applyFillToPosition(positions.get(order.row.symbol)!, signed, toUnits(fill.price), toUnits(fill.fees));
      positions.set(order.row.symbol, applied.position);
      trades.push({ ...fill, symbol: order.row.symbol, side: order.row.side, realized: applied.realized });
    });
    if (trades.length === 0) return { recorded: 0, duplicates };

    await client.query(
      `INSERT INTO execution.trades (account_id, order_id, broker_fill_id, symbol, side, quantity, price, fees, realized_pnl, executed_at)
       SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[], $10::timestamptz[])`,
      [accountId, trades.map((t) => t.orderId), trades.map((t) => t.brokerFillId), trades.map((t) => t.symbol), trades.map((t) => t.side), trades.map((t) => t.quantity), trades.map((t) => t.price), trades.map((t) => t.fees), trades.map((t) => fromUnits(t.realized)), trades.map((t) => t.executedAt)],
    );
    const changed = [...orders.values()].filter((order) => order.filled !== toUnits(order.row.filledQuantity));
    await client.query(
      `UPDATE execution.orders AS o
          SET filled_quantity = v.filled, average_fill_price = round(v.value / v.filled, 8), status = v.status, version = o.version + 1
         FROM unnest($2::bigint[], $3::numeric[], $4::numeric[], $5::text[]) AS v (id, filled, value, status)
        WHERE o.account_id = $1 AND o.id = v.id`,
      [accountId, changed.map((order) => order.row.id), changed.map((order) => fromUnits(order.filled)), changed.map((order) => fromUnits(order.value, 16)), changed.map((order) => order.status)],
    );
    await positionRepository.saveMany(client, accountId, [...positions].map(([symbol, state]) => ({ symbol, ...positionStateToText(state) })));
    // One event per order and batch, from its status before the batch to its status after, listing
    // the batch's fills of it in order (each fill is also its own row in trades).
    await client.query(
      `INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason, payload)
       SELECT $1, e.order_id, e.from_status, e.to_status, 'fills', e.payload FROM unnest($2::bigint[], $3::text[], $4::text[], $5::jsonb[]) AS e (order_id, from_status, to_status, payload)`,
      [
        accountId,
        changed.map((order) => order.row.id),
        changed.map((order) => order.row.status),
        changed.map((order) => order.status),
        changed.map((order) => JSON.stringify({ fills: order.fills.map((fill) => ({ brokerFillId: fill.brokerFillId, quantity: fill.quantity, price: fill.price, fees: fill.fees })) })),
      ],
    );
    return { recorded: trades.length, duplicates };
  });
}
