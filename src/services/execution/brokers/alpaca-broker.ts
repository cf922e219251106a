/**
 * Orders and fills through the Alpaca Trading API v2 (paper by default):
 *
 * - submit:     POST {baseUrl}/v2/orders with our client_order_id; a 422 "client_order_id must be
 *               unique" means the order already exists, and GET /v2/orders:by_client_order_id
 *               returns it, so a repeated submit yields the same broker order.
 * - cancel:     DELETE {baseUrl}/v2/orders/{id}; 204 once the cancel request is accepted, 422 when
 *               the order is no longer cancelable (filled, already cancelled), 404 when unknown.
 * - fillsSince: GET {baseUrl}/v2/account/activities/FILL?after=…&direction=asc&page_size=…, paged by
 *               passing the last activity's id as page_token (asc: the next page begins right after
 *               it) until a page comes back shorter than page_size.
 *
 * Quantities and prices go out and come back as decimal text (Alpaca sends them as JSON strings),
 * never through a double.
 */
import { z } from 'zod';
import { UserFacingError } from '../../../db/errors.ts';
import { ALPACA_KEY_ID_ENV, ALPACA_SECRET_KEY_ENV } from '../../data-ingestion/providers/alpaca-provider.ts';
import { plainDecimal, utcTimestamp } from '../../data-ingestion/providers/api-rows.ts';
import { RateLimiter } from '../../data-ingestion/providers/rate-limiter.ts';
import { HttpStatusError, type RetryOptions, type Sleep, withRetry } from '../../data-ingestion/providers/retry.ts';
import type { OrderSide } from '../order-table.ts';
import type { BrokerAdapter, BrokerFill, BrokerOrderAck, BrokerOrderRequest } from './broker-adapter.ts';
import { alpacaErrorMessage, alpacaRetryAfterMs } from '../../../shared/alpaca-http.ts';

export const ALPACA_PAPER_TRADING_URL = 'https://paper-api.alpaca.markets';
/** Alpaca's maximum (and default) page size of account activities. */
export const ALPACA_MAX_ACTIVITY_PAGE_SIZE = 100;

export interface AlpacaBrokerOptions {
  /** Default the environment variable ALPACA_API_KEY_ID. */
  keyId?: string;
  /** Default the environment variable ALPACA_API_SECRET_KEY. Never logged, never in an error message. */
  secretKey?: string;
  /** Default https://paper-api.alpaca.markets (paper trading); live is https://api.alpaca.markets. */
  baseUrl?: string;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Our own pacing of requests, shared by every call of this adapter; default 3 per second. */
  requestsPerSecond?: number;
  /** Retries of one request (429, 5xx, network); defaults of withRetry (4 attempts, 500 ms base backoff). */
  retry?: Omit<RetryOptions, 'signal' | 'sleep'>;
  /** Activities per page of fillsSince, 1 to 100; default 100. */
  pageSize?: number;
  /** Where credentials are read from when not given; default process.env. */
  env?: Record<string, string | undefined>;
  /** The wait for pacing and retries; default real timers (tests pass a fake that returns at once). */
  sleep?: Sleep;
  /** Clock for the pacing and for reading X-RateLimit-Reset; default Date.now. */
  now?: () => number;
}

/** Decimal text as Alpaca writes it (a JSON string); a JSON number is accepted and written out exactly. */
const Decimal = z.union([z.string().regex(/^-?\d+(\.\d+)?$/), z.number().transform(plainDecimal)]);

/** The fields of Alpaca's order object that we read; the rest are ignored. */
const AlpacaOrder = z.object({
  id: z.string().min(1),
  client_order_id: z.string().nullish(),
  status: z.string(),
  symbol: z.string().nullish(),
  side: z.string().nullish(),
});
type AlpacaOrder = z.infer<typeof AlpacaOrder>;

/** A TradeActivity of GET /v2/account/activities/FILL. */
const FillActivity = z.object({
  id: z.string().min(1),
  activity_type: z.string().optional(),
  transaction_time: z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'not a timestamp'),
  type: z.string().optional(),
  price: Decimal,
  qty: Decimal,
  side: z.enum(['buy', 'sell', 'sell_short']),
  symbol: z.string().min(1),
  order_id: z.string().min(1),
});

/** What the retried part of a request hands back: any status other than 401, 429 and 5xx. */
interface RawResponse {
  status: number;
  body: string;
}

export class AlpacaBroker implements BrokerAdapter {
  readonly name = 'alpaca';
  readonly #keyId: string;
  // Private fields: util.inspect and JSON.stringify of the adapter do not show them.
  readonly #secretKey: string;
  private readonly baseUrl: string;
  private readonly pageSize: number;
  private readonly fetchImpl: typeof fetch;
  private readonly limiter: RateLimiter;
  private readonly retry: Omit<RetryOptions, 'signal'>;
  private readonly now: () => number;

  constructor(options: AlpacaBrokerOptions = {}) {
    const env = options.env ?? process.env;
    const keyId = options.keyId ?? env[ALPACA_KEY_ID_ENV] ?? '';
    const secretKey = options.secretKey ?? env[ALPACA_SECRET_KEY_ENV] ?? '';
    const missing = [keyId ? undefined : ALPACA_KEY_ID_ENV, secretKey ? undefined : ALPACA_SECRET_KEY_ENV].filter(Boolean);
    if (missing.length > 0) {
      throw new UserFacingError(
        `Alpaca trading needs API credentials: set ${missing.join(' and ')} in the environment (or pass keyId/secretKey). Keys come from the Alpaca dashboard.`,
      );
    }
    this.#keyId = keyId;
    this.#secretKey = secretKey;
    this.baseUrl = (options.baseUrl ?? ALPACA_PAPER_TRADING_URL).replace(/\/+$/, '');
    const pageSize = options.pageSize ?? ALPACA_MAX_ACTIVITY_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > ALPACA_MAX_ACTIVITY_PAGE_SIZE) {
      throw new RangeError(`pageSize must be an integer from 1 to ${ALPACA_MAX_ACTIVITY_PAGE_SIZE}, not ${pageSize}`);
    }
    this.pageSize = pageSize;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    this.limiter = new RateLimiter({ requestsPerSecond: options.requestsPerSecond ?? 3, now: this.now, sleep: options.sleep });
    this.retry = { ...options.retry, sleep: options.sleep };
  }

  async submit(order: BrokerOrderRequest): Promise<BrokerOrderAck> {
    const body: Record<string, string> = {
      symbol: order.symbol,
      qty: order.quantity,
      side: order.side,
      type: order.orderType,
      time_in_force: order.timeInForce,
      client_order_id: order.clientOrderId,
    };
    if (order.limitPrice !== null) body.limit_price = order.limitPrice;
    if (order.stopPrice !== null) body.stop_price = order.stopPrice;
    // Retrying a POST is only safe when a repeat cannot make a second order. Here it cannot:
    // client_order_id is unique per account at Alpaca, so if an earlier attempt reached the broker
    // (its answer lost to a network error, a 5xx after the order was taken), the retry is refused
    // with 422 "client_order_id must be unique" and the lookup below returns the order that exists.
    // That is why request() may retry network failures and 429/5xx for this POST too.
    const response = await this.request('POST', '/v2/orders', { body });
    if (response.status === 200 || response.status === 201) return ack(this.parseOrder(response.body));
    const message = this.redact(alpacaErrorMessage(response.body));
    if (response.status === 422 && isDuplicateClientOrderId(message)) {
      const existing = await this.orderByClientOrderId(order.clientOrderId);
      const sameOrder =
        (existing.symbol == null || existing.symbol.toUpperCase() === order.symbol.toUpperCase()) &&
        (existing.side == null || existing.side === order.side);
      if (!sameOrder) {
        throw new UserFacingError(
          `Alpaca already has a different order (${existing.side ?? '?'} ${existing.symbol ?? '?'}, id ${existing.id}) with client_order_id ${order.clientOrderId}; the ${order.side} ${order.symbol} order was not placed.`,
        );
      }
      return ack(existing);
    }
    if (response.status === 400 || response.status === 403 || response.status === 422) {
      // 403: insufficient buying power or shares, pattern-day-trader rules; 400/422: the order
      // itself is invalid (qty, price increments, unknown symbol). Sending it again fails the same way.
      throw new UserFacingError(`Alpaca rejected the ${order.side} ${order.symbol} order ${order.clientOrderId} (HTTP ${response.status}): ${message}`);
    }
    throw new HttpStatusError(`Alpaca answered HTTP ${response.status} to the order ${order.clientOrderId}: ${message}`, response.status);
  }

  async cancel(brokerOrderId: string): Promise<void> {
    const response = await this.request('DELETE', `/v2/orders/${encodeURIComponent(brokerOrderId)}`);
    if (response.status === 204 || response.status === 200) return;
    const message = this.redact(alpacaErrorMessage(response.body));
    if (response.status === 404) throw new UserFacingError(`Alpaca: unknown order ${brokerOrderId} (HTTP 404: ${message}).`);
    if (response.status === 422) throw new UserFacingError(`Alpaca could not cancel the order ${brokerOrderId}: ${message}`);
    throw new HttpStatusError(`Alpaca answered HTTP ${response.status} to cancelling ${brokerOrderId}: ${message}`, response.status);
  }

  async fillsSince(since: Date): Promise<BrokerFill[]> {
    const sinceMs = since.getTime();
    if (Number.isNaN(sinceMs)) throw new RangeError('fillsSince: invalid date');
    // `after` is exclusive and documented at whole seconds: ask from the second before `since`
    // and drop the earlier fills here, so a fill stamped exactly at `since` is kept.
    const after = utcTimestamp(Math.floor((sinceMs - 1) / 1000) * 1000);
    const fills: BrokerFill[] = [];
    let pageToken: string | undefined;
    for (;;) {
      const query: Record<string, string> = { after, direction: 'asc', page_size: String(this.pageSize) };
      if (pageToken) query.page_token = pageToken;
      const response = await this.request('GET', '/v2/account/activities/FILL', { query });
      if (response.status !== 200) {
        throw new HttpStatusError(`Alpaca answered HTTP ${response.status} to the fills query: ${this.redact(alpacaErrorMessage(response.body))}`, response.status);
      }
      const page = z.array(z.unknown()).safeParse(parseJson(response.body));
      if (!page.success) throw new Error('Alpaca answered the fills query with something other than an array');
      let lastId: string | undefined;
      for (const item of page.data) {
        const id = (item as { id?: unknown } | null)?.id;
        if (typeof id === 'string') lastId = id;
        const activityType = (item as { activity_type?: unknown } | null)?.activity_type;
        if (activityType !== undefined && activityType !== 'FILL') continue; // only FILLs are asked for
        const activity = FillActivity.safeParse(item);
        if (!activity.success) throw new Error(`Alpaca sent a fill activity of an unexpected shape: ${z.prettifyError(activity.error)}`);
        const a = activity.data;
        const executedAt = new Date(a.transaction_time);
        if (executedAt.getTime() < sinceMs) continue;
        fills.push({
          brokerFillId: a.id,
          brokerOrderId: a.order_id,
          symbol: a.symbol,
          side: toOrderSide(a.side),
          quantity: a.qty,
          price: a.price,
          fees: '0', // a TradeActivity carries no fees; regulatory fees arrive as separate FEE activities
          executedAt,
        });
      }
      if (page.data.length < this.pageSize) break;
      // No progress: never loop on a server that ignores page_token.
      if (lastId === undefined || lastId === pageToken) break;
      pageToken = lastId;
    }
    return fills;
  }

  /** Keeps the secret out of util.inspect even through a subclass or a debugger's formatter. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `AlpacaBroker { baseUrl: '${this.baseUrl}' }`;
  }

  toJSON(): { name: string; baseUrl: string } {
    return { name: this.name, baseUrl: this.baseUrl };
  }

  private async orderByClientOrderId(clientOrderId: string): Promise<AlpacaOrder> {
    const response = await this.request('GET', '/v2/orders:by_client_order_id', { query: { client_order_id: clientOrderId } });
    if (response.status !== 200) {
      throw new HttpStatusError(
        `Alpaca refused client_order_id ${clientOrderId} as a duplicate but did not return its order (HTTP ${response.status}: ${this.redact(alpacaErrorMessage(response.body))})`,
        response.status,
      );
    }
    return this.parseOrder(response.body);
  }

  private parseOrder(body: string): AlpacaOrder {
    const order = AlpacaOrder.safeParse(parseJson(body));
    if (!order.success) throw new Error(`Alpaca answered with an order of an unexpected shape: ${z.prettifyError(order.error)}`);
    return order.data;
  }

  /**
   * One request, paced and retried: 401 becomes a UserFacingError, 429 and 5xx an HttpStatusError
   * that withRetry retries (obeying Retry-After), network failures are retried as well. Any other
   * status is returned for the caller to read.
   */
  private async request(method: 'GET' | 'POST' | 'DELETE', path: string, options: { query?: Record<string, string>; body?: unknown } = {}): Promise<RawResponse> {
    const url = `${this.baseUrl}${path}${options.query ? `?${new URLSearchParams(options.query)}` : ''}`;
    const headers: Record<string, string> = { 'APCA-API-KEY-ID': this.#keyId, 'APCA-API-SECRET-KEY': this.#secretKey, Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    return withRetry(async () => {
      await this.limiter.acquire();
      let response: Response;
      let body: string;
      try {
        response = await this.fetchImpl(url, init);
        body = await response.text();
      } catch (error) {
        // A network error never carries the headers, but keep any echo of the secret out anyway.
        if (error instanceof Error && error.message.includes(this.#secretKey)) {
          throw new Error(this.redact(error.message), { cause: error.cause });
        }
        throw error;
      }
      if (response.status === 401) {
        throw new UserFacingError(
          `Alpaca refused the API key (HTTP 401: ${this.redact(alpacaErrorMessage(body))}). Check ${ALPACA_KEY_ID_ENV} and ${ALPACA_SECRET_KEY_ENV}, ` +
            `and that the key belongs to ${this.baseUrl} (paper keys work only on the paper API).`,
        );
      }
      if (response.status === 429 || response.status >= 500) {
        const retryAfter = alpacaRetryAfterMs(response.status, response.headers, this.now());
        throw new HttpStatusError(`Alpaca answered HTTP ${response.status} to ${method} ${path}: ${this.redact(alpacaErrorMessage(body))}`, response.status, retryAfter);
      }
      return { status: response.status, body };
    }, this.retry);
  }

  /** Belt and braces: a server message that echoed the secret must not carry it into logs. */
  private redact(text: string): string {
    return text.split(this.#secretKey).join('[secret]');
  }
}

function ack(order: AlpacaOrder): BrokerOrderAck {
  return { brokerOrderId: order.id, brokerStatus: order.status };
}

function toOrderSide(side: 'buy' | 'sell' | 'sell_short'): OrderSide {
  return side === 'buy' ? 'buy' : 'sell';
}

/** Alpaca's 422 for a reused client id: {"code":40010001,"message":"client_order_id must be unique"}. */
function isDuplicateClientOrderId(message: string): boolean {
  return /client_order_id/i.test(message) && /unique|already exists/i.test(message);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new Error(`Alpaca answered with unreadable JSON: ${body.slice(0, 200)}`, { cause: error });
  }
}


