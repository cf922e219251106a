import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../../../src/db/errors.ts';
import type { InputRow } from '../../../../src/services/data-ingestion/input-row.ts';
import { AlpacaProvider, type AlpacaProviderOptions } from '../../../../src/services/data-ingestion/providers/alpaca-provider.ts';

const KEY_ID = 'PKTEST1234567890ABCD';
const SECRET = 'sEcReT-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const PAGE_TOKEN = 'QUFQTHxNfDIwMjQtMDEtMDNUMTQ6MzI6MDAuMDAwMDAwMDAwWg==';

/** A recorded Alpaca response body from test/fixtures/alpaca. */
function fixture(name: string): string {
  return readFileSync(new URL(`../../../fixtures/alpaca/${name}`, import.meta.url), 'utf8');
}

function jsonResponse(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } });
}

interface RecordedRequest {
  url: URL;
  headers: Headers;
}

/** A fetch that answers from `route` and records every request's URL and headers. */
function fakeFetch(route: (url: URL, call: number) => Response) {
  const requests: RecordedRequest[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    requests.push({ url, headers: new Headers(init?.headers) });
    return route(url, requests.length);
  }) as typeof fetch;
  return { fetch: fetchImpl, requests };
}

/** A sleep that records the waits and returns at once: no test waits for real. */
function fakeSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

function provider(options: Partial<AlpacaProviderOptions> & Pick<AlpacaProviderOptions, 'fetch'>): AlpacaProvider {
  return new AlpacaProvider({
    symbols: ['AAPL', 'MSFT'],
    interval: '1m',
    from: new Date('2024-01-03T14:30:00Z'),
    to: new Date('2024-01-03T14:35:00Z'),
    keyId: KEY_ID,
    secretKey: SECRET,
    sleep: fakeSleep().sleep,
    ...options,
  });
}

async function collect(source: AlpacaProvider): Promise<InputRow[]> {
  const rows: InputRow[] = [];
  for await (const row of source.rows()) rows.push(row);
  return rows;
}

/** Page 1 without page_token, page 2 with the token page 1 gave. */
function twoPages(url: URL): Response {
  const token = url.searchParams.get('page_token');
  if (token === null) return jsonResponse(fixture('bars-1min-page1.json'));
  if (token === PAGE_TOKEN) return jsonResponse(fixture('bars-1min-page2.json'));
  return jsonResponse('{"message":"invalid page token"}', 400);
}

describe('AlpacaProvider: requests', () => {
  it('asks /v2/stocks/bars with the documented parameters and key headers, and follows next_page_token', async () => {
    const { fetch, requests } = fakeFetch(twoPages);
    const rows = await collect(provider({ fetch }));

    expect(requests).toHaveLength(2);
    const [first, second] = requests as [RecordedRequest, RecordedRequest];
    expect(first.url.origin + first.url.pathname).toBe('https://data.alpaca.markets/v2/stocks/bars');
    expect(Object.fromEntries(first.url.searchParams)).toEqual({
      symbols: 'AAPL,MSFT',
      timeframe: '1Min',
      start: '2024-01-03T14:30:00Z',
      // `to` is exclusive, Alpaca's `end` inclusive.
      end: '2024-01-03T14:34:59.999Z',
      limit: '10000',
      adjustment: 'raw',
      feed: 'iex',
    });
    expect(first.headers.get('APCA-API-KEY-ID')).toBe(KEY_ID);
    expect(first.headers.get('APCA-API-SECRET-KEY')).toBe(SECRET);
    // The second page: the same query plus the token, decoded back intact ("==" survives encoding).
    expect(Object.fromEntries(second.url.searchParams)).toEqual({ ...Object.fromEntries(first.url.searchParams), page_token: PAGE_TOKEN });

    expect(rows.map((row) => row.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rows.map((row) => `${row.fields?.symbol} ${row.fields?.timestamp}`)).toEqual([
      'AAPL 2024-01-03T14:30:00Z',
      'AAPL 2024-01-03T14:31:00Z',
      'AAPL 2024-01-03T14:32:00Z',
      'AAPL 2024-01-03T14:33:00Z',
      'AAPL 2024-01-03T14:34:00Z',
      'MSFT 2024-01-03T14:30:00Z',
      'MSFT 2024-01-03T14:31:00Z',
    ]);
    expect(rows[0]).toEqual({
      line: 1,
      raw: JSON.stringify({ symbol: 'AAPL', t: '2024-01-03T14:30:00Z', o: 184.22, h: 184.5, l: 183.955, c: 184.38, v: 98213, n: 1204, vw: 184.266831 }),
      fields: {
        symbol: 'AAPL',
        timestamp: '2024-01-03T14:30:00Z',
        open: '184.22',
        high: '184.5',
        low: '183.955',
        close: '184.38',
        volume: '98213',
        vwap: '184.266831',
        tradeCount: '1204',
      },
    });
  });

  it('maps intervals to Alpaca timeframes and passes feed, adjustment and baseUrl', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('bars-1day.json')));
    await collect(provider({ fetch, symbols: ['AAPL'], interval: '1wk', feed: 'sip', adjustment: 'split', baseUrl: 'http://localhost:8080/proxy/' }));
    const url = requests[0]!.url;
    expect(url.origin + url.pathname).toBe('http://localhost:8080/proxy/v2/stocks/bars');
    expect(url.searchParams.get('timeframe')).toBe('1Week');
    expect(url.searchParams.get('feed')).toBe('sip');
    expect(url.searchParams.get('adjustment')).toBe('split');
  });

  it('leaves `end` out when no `to` is given (Alpaca then ends at the latest bar the plan allows)', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('bars-1day.json')));
    await collect(provider({ fetch, symbols: ['AAPL'], interval: '1d', from: new Date('2024-03-07T00:00:00Z'), to: undefined }));
    expect(requests[0]!.url.searchParams.has('end')).toBe(false);
  });

  it('paces requests at requestsPerSecond (default 3)', async () => {
    const { waits, sleep } = fakeSleep();
    const { fetch } = fakeFetch(twoPages);
    // The clock stands still, so the limiter's waits are exactly its schedule.
    await collect(provider({ fetch, sleep, now: () => 0 }));
    expect(waits).toEqual([333.3333333333333]);
  });
});

describe('AlpacaProvider: daily bars', () => {
  it('dates 1Day bars by their New York day, on both sides of the daylight-saving switch', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('bars-1day.json')));
    const rows = await collect(provider({ fetch, interval: '1d', from: new Date('2024-03-07T00:00:00Z'), to: new Date('2024-03-13T00:00:00Z') }));
    expect(requests[0]!.url.searchParams.get('timeframe')).toBe('1Day');
    // Picked by date: the whole UTC days from the first date to the last.
    expect(requests[0]!.url.searchParams.get('start')).toBe('2024-03-07T00:00:00Z');
    expect(requests[0]!.url.searchParams.get('end')).toBe('2024-03-12T23:59:59Z');
    // 05:00Z in EST, 04:00Z in EDT: both New York midnight, the bar's date.
    expect(rows.slice(0, 4).map((row) => [JSON.parse(row.raw).t, row.fields?.timestamp])).toEqual([
      ['2024-03-07T05:00:00Z', '2024-03-07'],
      ['2024-03-08T05:00:00Z', '2024-03-08'],
      ['2024-03-11T04:00:00Z', '2024-03-11'],
      ['2024-03-12T04:00:00Z', '2024-03-12'],
    ]);
    expect(rows[0]!.fields).toMatchObject({ open: '169.15', close: '169', volume: '71765061', tradeCount: '825405', vwap: '169.642785' });
    // MSFT was asked for and Alpaca had nothing: said, not silently dropped.
    expect(rows[4]).toEqual({ line: 5, raw: expect.any(String), problem: { rule: 'provider_no_data', detail: expect.stringContaining('MSFT: Alpaca has no 1d bars') } });
    expect(rows).toHaveLength(5);
  });
});

describe('AlpacaProvider: credentials', () => {
  it('reads ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY from the environment by default', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('bars-1day.json')));
    await collect(provider({ fetch, keyId: undefined, secretKey: undefined, env: { ALPACA_API_KEY_ID: 'env-key', ALPACA_API_SECRET_KEY: 'env-secret' } }));
    expect(requests[0]!.headers.get('APCA-API-KEY-ID')).toBe('env-key');
    expect(requests[0]!.headers.get('APCA-API-SECRET-KEY')).toBe('env-secret');
  });

  it('refuses to start without credentials, naming the environment variables', () => {
    const { fetch } = fakeFetch(twoPages);
    const none = () => provider({ fetch, keyId: undefined, secretKey: undefined, env: {} });
    expect(none).toThrow(UserFacingError);
    expect(none).toThrow(/ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY/);
    const noSecret = () => provider({ fetch, secretKey: undefined, env: {} });
    expect(noSecret).toThrow(/set ALPACA_API_SECRET_KEY in the environment/);
  });

  it('stops on 401 with a UserFacingError, without retrying, and the secret appears nowhere', async () => {
    const { waits, sleep } = fakeSleep();
    const { fetch, requests } = fakeFetch(() => jsonResponse(fixture('unauthorized.json'), 401));
    const source = provider({ fetch, sleep });
    const error = await collect(source).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toContain('HTTP 401: request is not authorized');
    expect((error as Error).message).toContain('ALPACA_API_KEY_ID');
    expect(requests).toHaveLength(1);
    expect(waits).toEqual([]);
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
    expect(inspect(source, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(JSON.stringify(source)).not.toContain(SECRET);
  });

  it('stops on 403 too, and hides a secret the server echoed back', async () => {
    const { fetch } = fakeFetch(() => jsonResponse(JSON.stringify({ message: `forbidden: key ${KEY_ID} secret ${SECRET}` }), 403));
    const error = await collect(provider({ fetch })).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toContain('HTTP 403: forbidden');
    expect((error as Error).message).not.toContain(SECRET);
  });
});

describe('AlpacaProvider: failures', () => {
  it('retries a 429 after its Retry-After, then reads the page', async () => {
    const { waits, sleep } = fakeSleep();
    const { fetch, requests } = fakeFetch((url, call) =>
      call === 1 ? jsonResponse(fixture('too-many-requests.json'), 429, { 'retry-after': '2' }) : twoPages(url),
    );
    const rows = await collect(provider({ fetch, sleep }));
    expect(requests).toHaveLength(3);
    expect(requests[1]!.url.href).toBe(requests[0]!.url.href);
    expect(waits).toContain(2000);
    expect(rows).toHaveLength(7);
  });

  it('waits for X-RateLimit-Reset on a 429 without Retry-After', async () => {
    const { waits, sleep } = fakeSleep();
    const nowMs = Date.parse('2024-01-03T15:00:00Z');
    const resetAt = nowMs / 1000 + 30;
    const { fetch } = fakeFetch((url, call) =>
      call === 1
        ? jsonResponse(fixture('too-many-requests.json'), 429, { 'x-ratelimit-limit': '200', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAt) })
        : twoPages(url),
    );
    const rows = await collect(provider({ fetch, sleep, now: () => nowMs }));
    expect(rows).toHaveLength(7);
    expect(waits).toContain(30_000);
  });

  it('ignores X-RateLimit-Reset on a 5xx and backs off instead', async () => {
    const { waits, sleep } = fakeSleep();
    const nowMs = Date.parse('2024-01-03T15:00:00Z');
    const { fetch } = fakeFetch((url, call) =>
      call === 1 ? jsonResponse('{"message":"internal server error"}', 500, { 'x-ratelimit-reset': String(nowMs / 1000 + 45) }) : twoPages(url),
    );
    await collect(provider({ fetch, sleep, now: () => nowMs, retry: { baseDelayMs: 100 } }));
    expect(waits.some((ms) => ms >= 45_000)).toBe(false);
  });

  it('gives up on a lasting 5xx with one provider_error row that does not hold the secret', async () => {
    const { fetch, requests } = fakeFetch(() => jsonResponse('{"message":"internal server error"}', 500));
    const rows = await collect(provider({ fetch, retry: { attempts: 3 } }));
    expect(requests).toHaveLength(3);
    expect(rows).toEqual([
      { line: 1, raw: expect.any(String), problem: { rule: 'provider_error', detail: 'AAPL, MSFT: Alpaca request failed: Alpaca answered HTTP 500: internal server error' } },
    ]);
    expect(JSON.stringify(rows)).not.toContain(SECRET);
  });

  it('isolates a symbol Alpaca refuses (HTTP 4xx): the batch is asked again symbol by symbol', async () => {
    const { fetch, requests } = fakeFetch((url) =>
      url.searchParams.get('symbols')!.includes('AAPL$') ? jsonResponse(fixture('invalid-symbol.json'), 422) : jsonResponse(fixture('bars-1day.json')),
    );
    const rows = await collect(provider({ fetch, symbols: ['AAPL$', 'AAPL'], interval: '1d', from: new Date('2024-03-07T00:00:00Z'), to: new Date('2024-03-13T00:00:00Z') }));
    expect(requests.map((request) => request.url.searchParams.get('symbols'))).toEqual(['AAPL$,AAPL', 'AAPL$', 'AAPL']);
    expect(rows[0]).toEqual({ line: 1, raw: expect.any(String), problem: { rule: 'provider_error', detail: 'AAPL$: Alpaca request failed: Alpaca answered HTTP 422: invalid symbol: AAPL$' } });
    expect(rows.slice(1).map((row) => row.fields?.timestamp)).toEqual(['2024-03-07', '2024-03-08', '2024-03-11', '2024-03-12']);
    expect(rows.map((row) => row.line)).toEqual([1, 2, 3, 4, 5]);
  });

  it('turns a page that is not JSON into a provider_error row', async () => {
    const { fetch } = fakeFetch(() => new Response('<html>maintenance</html>', { status: 200 }));
    const rows = await collect(provider({ fetch }));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.problem?.rule).toBe('provider_error');
    expect(rows[0]!.problem?.detail).toContain('unreadable JSON');
  });

  it('yields a bar with a missing field for the pipeline to reject, and keeps going', async () => {
    const body = JSON.stringify({ bars: { AAPL: [{ t: '2024-01-03T14:30:00Z', o: 1, h: 2, l: 0.5, c: 1.5, n: 3, vw: 1.2 }, 'not a bar'] }, next_page_token: null });
    const { fetch } = fakeFetch(() => jsonResponse(body));
    const rows = await collect(provider({ fetch, symbols: ['AAPL'] }));
    expect(rows[0]!.fields).toMatchObject({ timestamp: '2024-01-03T14:30:00Z', open: '1', volume: undefined });
    expect(rows[1]!.problem).toEqual({ rule: 'provider_error', detail: 'AAPL: Alpaca sent a bar that is not an object' });
  });
});
