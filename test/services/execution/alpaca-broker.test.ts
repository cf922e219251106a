import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../../src/db/errors.ts';
import { AlpacaBroker, type AlpacaBrokerOptions } from '../../../src/services/execution/brokers/alpaca-broker.ts';
import type { BrokerOrderRequest } from '../../../src/services/execution/brokers/broker-adapter.ts';

const KEY_ID = 'PKTEST1234567890ABCD';
const SECRET = 'sEcReT-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const BASE = 'https://paper-api.alpaca.markets';
const ORDER_ID = '61e69015-8549-4bfd-b9c3-01e75843f47d';
const PAGE1_LAST_ID = '20240102093001456::1f0a9d3b-2c7e-4b8a-8d6f-7e5c4b3a2910';

/** A recorded Alpaca response body from test/fixtures/alpaca-broker. */
function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/alpaca-broker/${name}`, import.meta.url), 'utf8');
}

function jsonResponse(body: string | null, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: body === null ? headers : { 'content-type': 'application/json', ...headers } });
}

interface RecordedRequest {
  url: URL;
  method: string;
  headers: Headers;
  body: unknown;
}

/** A fetch that answers from `route` and records each request's URL, method, headers and JSON body. */
function fakeFetch(route: (request: RecordedRequest, call: number) => Response | Promise<Response>) {
  const requests: RecordedRequest[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const request: RecordedRequest = {
      url: new URL(input instanceof Request ? input.url : String(input)),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    requests.push(request);
    return route(request, requests.length);
  }) as typeof fetch;
  return { fetch: fetchImpl, requests };
}

/** A sleep that records the waits and returns at once: no test waits for real. */
function fakeSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

function broker(options: Partial<AlpacaBrokerOptions> & Pick<AlpacaBrokerOptions, 'fetch'>): AlpacaBroker {
  return new AlpacaBroker({ keyId: KEY_ID, secretKey: SECRET, sleep: fakeSleep().sleep, env: {}, ...options });
}

const limitBuy: BrokerOrderRequest = {
  clientOrderId: 'tdb-7f3c2a10-0001',
  symbol: 'AAPL',
  side: 'buy',
  orderType: 'limit',
  timeInForce: 'day',
  quantity: '10',
  limitPrice: '187.50',
  stopPrice: null,
};

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('AlpacaBroker credentials', () => {
  it('reads the keys from the environment and sends them as headers', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('order-accepted.json')));
    const adapter = new AlpacaBroker({ env: { ALPACA_API_KEY_ID: KEY_ID, ALPACA_API_SECRET_KEY: SECRET }, fetch, sleep: fakeSleep().sleep });
    await adapter.submit(limitBuy);
    expect(requests[0]!.headers.get('APCA-API-KEY-ID')).toBe(KEY_ID);
    expect(requests[0]!.headers.get('APCA-API-SECRET-KEY')).toBe(SECRET);
  });

  it('names both environment variables when they are missing', () => {
    expect(() => new AlpacaBroker({ env: {} })).toThrow(UserFacingError);
    expect(() => new AlpacaBroker({ env: {} })).toThrow(/ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY/);
  });

  it('keeps the secret out of inspect and JSON', () => {
    const adapter = broker({ fetch: fakeFetch(() => jsonResponse('{}')).fetch });
    expect(inspect(adapter, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(JSON.stringify(adapter)).not.toContain(SECRET);
    expect(JSON.stringify(adapter)).toContain(BASE);
  });
});

describe('AlpacaBroker.submit', () => {
  it('posts the order as Alpaca JSON and returns the broker id and status', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('order-accepted.json')));
    const ack = await broker({ fetch }).submit(limitBuy);
    expect(ack).toEqual({ brokerOrderId: ORDER_ID, brokerStatus: 'accepted' });
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.method).toBe('POST');
    expect(request!.url.href).toBe(`${BASE}/v2/orders`);
    expect(request!.headers.get('content-type')).toBe('application/json');
    expect(request!.headers.get('APCA-API-KEY-ID')).toBe(KEY_ID);
    expect(request!.headers.get('APCA-API-SECRET-KEY')).toBe(SECRET);
    expect(request!.body).toEqual({
      symbol: 'AAPL',
      qty: '10',
      side: 'buy',
      type: 'limit',
      time_in_force: 'day',
      limit_price: '187.50',
      client_order_id: 'tdb-7f3c2a10-0001',
    });
  });

  it('sends a stop-limit with both prices as exact text and leaves them out of a market order', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('order-accepted.json')));
    const adapter = broker({ fetch });
    await adapter.submit({ ...limitBuy, side: 'sell', orderType: 'stop_limit', timeInForce: 'gtc', quantity: '0.5', limitPrice: '180.01', stopPrice: '180.10' });
    await adapter.submit({ ...limitBuy, orderType: 'market', limitPrice: null });
    expect(requests[0]!.body).toMatchObject({ side: 'sell', type: 'stop_limit', time_in_force: 'gtc', qty: '0.5', limit_price: '180.01', stop_price: '180.10' });
    expect(requests[1]!.body).not.toHaveProperty('limit_price');
    expect(requests[1]!.body).not.toHaveProperty('stop_price');
    expect(requests[1]!.body).toMatchObject({ type: 'market' });
  });

  it('resolves a duplicate client_order_id (422) to the existing order', async () => {
    const { fetch, requests } = fakeFetch((request) =>
      request.method === 'POST' ? jsonResponse(fixture('duplicate-client-order-id.json'), 422) : jsonResponse(fixture('order-by-client-order-id.json')),
    );
    const ack = await broker({ fetch }).submit(limitBuy);
    expect(ack).toEqual({ brokerOrderId: ORDER_ID, brokerStatus: 'partially_filled' });
    expect(requests.map((r) => r.method)).toEqual(['POST', 'GET']);
    const lookup = requests[1]!;
    expect(lookup.url.origin + lookup.url.pathname).toBe(`${BASE}/v2/orders:by_client_order_id`);
    expect(lookup.url.searchParams.get('client_order_id')).toBe('tdb-7f3c2a10-0001');
    expect(lookup.headers.get('APCA-API-SECRET-KEY')).toBe(SECRET);
  });

  it('retries a network failure safely: the repeat is a duplicate and yields the same order', async () => {
    const { fetch, requests } = fakeFetch((request, call) => {
      if (call === 1) throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      return request.method === 'POST' ? jsonResponse(fixture('duplicate-client-order-id.json'), 422) : jsonResponse(fixture('order-by-client-order-id.json'));
    });
    const retried: number[] = [];
    const ack = await broker({ fetch, retry: { onRetry: ({ attempt }) => void retried.push(attempt) } }).submit(limitBuy);
    expect(ack.brokerOrderId).toBe(ORDER_ID);
    expect(requests.map((r) => r.method)).toEqual(['POST', 'POST', 'GET']);
    expect(requests[0]!.body).toEqual(requests[1]!.body);
    expect(retried).toEqual([1]);
  });

  it('refuses a duplicate whose existing order is a different one', async () => {
    const other = JSON.stringify({ ...JSON.parse(fixture('order-by-client-order-id.json')), symbol: 'MSFT' });
    const { fetch } = fakeFetch((request) => (request.method === 'POST' ? jsonResponse(fixture('duplicate-client-order-id.json'), 422) : jsonResponse(other)));
    const error = await rejection(broker({ fetch }).submit(limitBuy));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toContain('MSFT');
  });

  it('turns 403 insufficient buying power into a UserFacingError without retrying', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('insufficient-buying-power.json'), 403));
    const error = await rejection(broker({ fetch }).submit(limitBuy));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toContain('insufficient buying power');
    expect(requests).toHaveLength(1);
  });

  it('turns a 422 validation error other than a duplicate into a UserFacingError without a lookup', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(JSON.stringify({ code: 42210000, message: 'qty must be > 0' }), 422));
    const error = await rejection(broker({ fetch }).submit({ ...limitBuy, quantity: '0' }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toContain('qty must be > 0');
    expect(requests).toHaveLength(1);
  });

  it('turns 401 into a UserFacingError naming the environment variables, not retried, without the secret', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('unauthorized.json'), 401));
    const sleep = fakeSleep();
    const error = await rejection(broker({ fetch, sleep: sleep.sleep }).submit(limitBuy));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toContain('ALPACA_API_KEY_ID');
    expect(error.message).toContain('ALPACA_API_SECRET_KEY');
    expect(error.message).toContain('request is not authorized');
    expect(error.message).not.toContain(SECRET);
    expect(requests).toHaveLength(1);
    expect(sleep.waits).toEqual([]);
  });

  it('retries 429 after the Retry-After wait, then succeeds', async () => {
    const { fetch, requests } = fakeFetch((_request, call) =>
      call === 1 ? jsonResponse(fixture('too-many-requests.json'), 429, { 'retry-after': '7' }) : jsonResponse(fixture('order-accepted.json')),
    );
    const sleep = fakeSleep();
    const ack = await broker({ fetch, sleep: sleep.sleep, requestsPerSecond: 1000 }).submit(limitBuy);
    expect(ack.brokerOrderId).toBe(ORDER_ID);
    expect(requests).toHaveLength(2);
    expect(sleep.waits).toContain(7000);
  });

  it('gives up after the configured attempts on repeated 5xx, with no secret in the error', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(JSON.stringify({ message: `upstream echoed ${SECRET}` }), 503));
    const error = await rejection(broker({ fetch, retry: { attempts: 3 } }).submit(limitBuy));
    expect(requests).toHaveLength(3);
    expect(error.message).toContain('503');
    expect(error.message).not.toContain(SECRET);
    expect(error.message).toContain('[secret]');
  });
});

describe('AlpacaBroker.cancel', () => {
  it('sends DELETE /v2/orders/{id} and resolves on 204', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(null, 204));
    await expect(broker({ fetch }).cancel(ORDER_ID)).resolves.toBeUndefined();
    expect(requests).toHaveLength(1);
    expect(requests[0]!.method).toBe('DELETE');
    expect(requests[0]!.url.href).toBe(`${BASE}/v2/orders/${ORDER_ID}`);
    expect(requests[0]!.headers.get('APCA-API-KEY-ID')).toBe(KEY_ID);
  });

  it('reports an order that is no longer cancelable (422) with the broker message', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('cancel-not-cancelable.json'), 422));
    const error = await rejection(broker({ fetch }).cancel(ORDER_ID));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toContain('order is not cancelable');
    expect(requests).toHaveLength(1);
  });

  it('reports an unknown order (404)', async () => {
    const { fetch } = fakeFetch(() => jsonResponse(fixture('order-not-found.json'), 404));
    const error = await rejection(broker({ fetch }).cancel('no-such-order'));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/unknown order no-such-order/);
  });
});

describe('AlpacaBroker.fillsSince', () => {
  it('pages by the last activity id and maps fills with exact decimals', async () => {
    const { fetch, requests } = fakeFetch((request) =>
      request.url.searchParams.has('page_token') ? jsonResponse(fixture('activities-fill-page2.json')) : jsonResponse(fixture('activities-fill-page1.json')),
    );
    const fills = await broker({ fetch, pageSize: 2 }).fillsSince(new Date('2024-01-02T14:30:00.000Z'));

    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.method).toBe('GET');
      expect(request.url.origin + request.url.pathname).toBe(`${BASE}/v2/account/activities/FILL`);
      expect(request.url.searchParams.get('direction')).toBe('asc');
      expect(request.url.searchParams.get('page_size')).toBe('2');
      // `after` is exclusive: one second before `since`, the earlier fills dropped by the adapter.
      expect(request.url.searchParams.get('after')).toBe('2024-01-02T14:29:59Z');
      expect(request.headers.get('APCA-API-SECRET-KEY')).toBe(SECRET);
    }
    expect(requests[0]!.url.searchParams.has('page_token')).toBe(false);
    expect(requests[1]!.url.searchParams.get('page_token')).toBe(PAGE1_LAST_ID);

    expect(fills).toEqual([
      {
        brokerFillId: '20240102093000123::8e6e2c8a-6b4f-4d0e-9a51-0c3f5b7e2d11',
        brokerOrderId: ORDER_ID,
        symbol: 'AAPL',
        side: 'buy',
        quantity: '4',
        price: '187.15',
        fees: '0',
        executedAt: new Date('2024-01-02T14:30:00.123Z'),
      },
      {
        brokerFillId: PAGE1_LAST_ID,
        brokerOrderId: ORDER_ID,
        symbol: 'AAPL',
        side: 'buy',
        quantity: '6',
        price: '187.1500',
        fees: '0',
        executedAt: new Date('2024-01-02T14:30:01.456Z'),
      },
      {
        brokerFillId: '20240102100512007::c3d2e1f0-9a8b-4c7d-8e6f-5a4b3c2d1e0f',
        brokerOrderId: '0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
        symbol: 'TSLA',
        side: 'sell',
        quantity: '3',
        price: '248.4201',
        fees: '0',
        executedAt: new Date('2024-01-02T15:05:12.007Z'),
      },
    ]);
    expect(fills.every((fill) => fill.executedAt instanceof Date)).toBe(true);
  });

  it('drops fills before `since` that the whole-second `after` lets through', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('activities-fill-page1.json')));
    const fills = await broker({ fetch }).fillsSince(new Date('2024-01-02T14:30:00.200Z'));
    expect(requests).toHaveLength(1); // 2 items < default page size 100: one page
    expect(requests[0]!.url.searchParams.get('page_size')).toBe('100');
    expect(requests[0]!.url.searchParams.get('after')).toBe('2024-01-02T14:30:00Z');
    expect(fills.map((fill) => fill.quantity)).toEqual(['6']);
  });

  it('stops on an empty page and rejects an activity of an unexpected shape', async () => {
    const empty = fakeFetch(() => jsonResponse('[]'));
    await expect(broker({ fetch: empty.fetch }).fillsSince(new Date('2024-01-02T00:00:00Z'))).resolves.toEqual([]);
    expect(empty.requests).toHaveLength(1);

    const bad = fakeFetch(() => jsonResponse(JSON.stringify([{ id: 'x', activity_type: 'FILL', transaction_time: 'yesterday', price: 1, qty: '1', side: 'buy', symbol: 'A', order_id: 'o' }])));
    await expect(broker({ fetch: bad.fetch }).fillsSince(new Date('2024-01-02T00:00:00Z'))).rejects.toThrow(/transaction_time/);
  });

  it('retries a 429 on a page with a fake sleep', async () => {
    const { fetch, requests } = fakeFetch((_request, call) =>
      call === 1 ? jsonResponse(fixture('too-many-requests.json'), 429, { 'retry-after': '2' }) : jsonResponse(fixture('activities-fill-page2.json')),
    );
    const sleep = fakeSleep();
    const fills = await broker({ fetch, sleep: sleep.sleep, requestsPerSecond: 1000 }).fillsSince(new Date('2024-01-02T00:00:00Z'));
    expect(fills.map((fill) => fill.side)).toEqual(['sell']);
    expect(requests).toHaveLength(2);
    expect(sleep.waits).toContain(2000);
  });
});
