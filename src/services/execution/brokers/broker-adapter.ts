import type { OrderRow, OrderSide } from '../order-table.ts';

/**
 * What tradedb needs from a broker: take an order, cancel it, and report fills. Quantities and
 * prices are exact decimal text. Fills carry the broker's own fill id, which recordFill uses to
 * count a redelivered fill once.
 */
/** The order as a broker receives it; clientOrderId is our idempotency key, passed on to brokers that support one. */
export type BrokerOrderRequest = Pick<OrderRow, 'clientOrderId' | 'symbol' | 'side' | 'orderType' | 'timeInForce' | 'quantity' | 'limitPrice' | 'stopPrice'>;

export interface BrokerOrderAck {
  brokerOrderId: string;
  /** The broker's own status word, for logs (e.g. "accepted", "new"). */
  brokerStatus: string;
}

export interface BrokerFill {
  brokerFillId: string;
  brokerOrderId: string;
  clientOrderId?: string;
  symbol: string;
  side: OrderSide;
  quantity: string;
  price: string;
  /** Default "0" when the broker reports none. */
  fees: string;
  executedAt: Date;
}

export interface BrokerAdapter {
  readonly name: string;
  submit(order: BrokerOrderRequest): Promise<BrokerOrderAck>;
  /** Asks the broker to cancel; resolves when the request is accepted (the cancel itself may race a fill). */
  cancel(brokerOrderId: string): Promise<void>;
  /** Fills executed at or after `since`, oldest first. */
  fillsSince(since: Date): Promise<BrokerFill[]>;
}
