/** Rows and vocabularies of execution.orders, order_events, trades and positions. */

export const ORDER_SIDES = ['buy', 'sell'] as const;
export const ORDER_TYPES = ['market', 'limit', 'stop', 'stop_limit'] as const;
export const TIMES_IN_FORCE = ['day', 'gtc', 'ioc', 'fok'] as const;
export const ORDER_STATUSES = ['pending', 'submitted', 'partially_filled', 'pending_cancel', 'filled', 'cancelled', 'rejected', 'expired'] as const;

export type OrderSide = (typeof ORDER_SIDES)[number];
export type OrderType = (typeof ORDER_TYPES)[number];
export type TimeInForce = (typeof TIMES_IN_FORCE)[number];
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An order as stored; quantities and prices are exact decimal text. */
export interface OrderRow {
  accountId: string;
  id: number;
  clientOrderId: string;
  brokerOrderId: string | null;
  symbol: string;
  side: OrderSide;
  orderType: OrderType;
  timeInForce: TimeInForce;
  quantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  status: OrderStatus;
  filledQuantity: string;
  averageFillPrice: string | null;
  strategyId: number | null;
  signalId: number | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface TradeRow {
  accountId: string;
  id: number;
  orderId: number;
  brokerFillId: string;
  symbol: string;
  side: OrderSide;
  quantity: string;
  price: string;
  fees: string;
  /** What the fill realized on its position, after fees. */
  realizedPnl: string;
  executedAt: Date;
}

/** Signed quantity: negative is short. */
export interface PositionRow {
  accountId: string;
  symbol: string;
  quantity: string;
  averageCost: string;
  realizedPnl: string;
  version: number;
}

export interface OrderEventRow {
  id: number;
  orderId: number;
  fromStatus: OrderStatus | null;
  toStatus: OrderStatus;
  reason: string | null;
  occurredAt: Date;
  payload: Record<string, unknown>;
}
