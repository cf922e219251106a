import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { UserFacingError } from '../../../../src/db/errors.ts';
import type { InputRow } from '../../../../src/services/data-ingestion/input-row.ts';
import { exchangeLocalDate, plainDecimal, utcTimestamp } from '../../../../src/services/data-ingestion/providers/api-rows.ts';
import {
  type LibraryLogLevel,
  YahooProvider,
  type YahooProviderOptions,
  yahooPrice,
} from '../../../../src/services/data-ingestion/providers/yahoo-provider.ts';

/** A recorded Yahoo response body from test/fixtures/yahoo. */
function fixture(name: string): string {
  return readFileSync(new URL(`../../../fixtures/yahoo/${name}`, import.meta.url), 'utf8');
}

function jsonResponse(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** What Yahoo answers for a range without bars: meta, no timestamp, one empty quote. */
function emptyChart(symbol: string): string {
  const chart = JSON.parse(fixture('aapl-1m.json'));
  const result = chart.chart.result[0];
  result.meta.symbol = symbol;
  delete result.timestamp;
  result.indicators = { quote: [{}] };
  return JSON.stringify(chart);
}

/** A fetch that answers from `route` and records every request's URL. */
function fakeFetch(route: (url: URL, symbol: string, call: number) => Response) {
  const urls: URL[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    urls.push(url);
    const symbol = decodeURIComponent(url.pathname.replace('/v8/finance/chart/', ''));
    return route(url, symbol, urls.length);
  }) as typeof fetch;
  return { fetch: fetchImpl, urls };
}

/** Serves one fixture per symbol, 404 for anything else. */
function bySymbol(files: Record<string, string>) {
  return (_url: URL, symbol: string) => {
    const file = files[symbol];
    return file ? jsonResponse(fixture(file)) : jsonResponse(fixture('not-found.json'), 404);
  };
}

/** A sleep that records the waits and returns at once: no test waits for real. */
function fakeSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

async function collect(provider: YahooProvider): Promise<InputRow[]> {
  const rows: InputRow[] = [];
  for await (const row of provider.rows()) rows.push(row);
  return rows;
}

function provider(options: Partial<YahooProviderOptions> & Pick<YahooProviderOptions, 'client'>): YahooProvider {
  return new YahooProvider({
    symbols: ['AAPL'],
    interval: '1d',
    from: new Date('2024-01-02T00:00:00Z'),
    to: new Date('2024-01-06T00:00:00Z'),
    sleep: fakeSleep().sleep,
    onLibraryLog: () => undefined,
    ...options,
  });
}

const seconds = (iso: string) => String(Date.parse(iso) / 1000);

describe('YahooProvider: an NYSE daily series', () => {
  it('asks chart() for the range and interval, and dates each bar by its New York day', async () => {
    const { fetch, urls } = fakeFetch(bySymbol({ AAPL: 'aapl-1d.json' }));
    const rows = await collect(provider({ client: fetch }));

    expect(urls).toHaveLength(1);
    const url = urls[0]!;
    expect(url.origin + url.pathname).toBe('https://query2.finance.yahoo.com/v8/finance/chart/AAPL');
    expect(url.searchParams.get('interval')).toBe('1d');
    // A day of margin on each side: daily bars are picked by their exchange-local date.
    expect(url.searchParams.get('period1')).toBe(seconds('2024-01-01T00:00:00Z'));
    expect(url.searchParams.get('period2')).toBe(seconds('2024-01-07T00:00:00Z'));
    expect(url.searchParams.get('includePrePost')).toBe('false');

    // Bars stamped 14:30Z (the 09:30 New York open) are the bars of that New York date.
    expect(rows.map((row) => row.fields?.timestamp)).toEqual(['2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05']);
    expect(rows.map((row) => row.line)).toEqual([1, 2, 3, 4]);
    expect(rows[0]).toEqual({
      line: 1,
      raw: expect.any(String),
      fields: { symbol: 'AAPL', timestamp: '2024-01-02', open: '187.15', high: '188.44', low: '183.89', close: '185.64', volume: '82488700' },
    });
    // raw keeps Yahoo's record as it came: the epoch second and the 32-bit float value.
    expect(JSON.parse(rows[0]!.raw)).toMatchObject({ symbol: 'AAPL', timestamp: 1704205800, close: 185.63999938964844, volume: 82488700 });
  });
});

describe('YahooProvider: intraday', () => {
  it('emits 1m bars as UTC instants with Z', async () => {
    const { fetch, urls } = fakeFetch(bySymbol({ AAPL: 'aapl-1m.json' }));
    const rows = await collect(
      provider({ client: fetch, interval: '1m', from: new Date('2024-01-03T14:30:00Z'), to: new Date('2024-01-03T14:35:00Z') }),
    );
    expect(urls[0]!.searchParams.get('interval')).toBe('1m');
    expect(rows.map((row) => row.fields?.timestamp)).toEqual([
      '2024-01-03T14:30:00Z',
      '2024-01-03T14:31:00Z',
      '2024-01-03T14:32:00Z',
      '2024-01-03T14:33:00Z',
      '2024-01-03T14:34:00Z',
    ]);
    expect(rows[0]!.fields).toMatchObject({ open: '184.22', high: '184.5', low: '183.95', close: '184.38', volume: '1834521' });
  });

  it("asks for 1h bars as Yahoo's 60m", async () => {
    const { fetch, urls } = fakeFetch(() => jsonResponse(emptyChart('AAPL')));
    await collect(provider({ client: fetch, interval: '1h' }));
    expect(urls[0]!.searchParams.get('interval')).toBe('60m');
  });

  it('splits a long 1m range into windows of at most 7 days, and a bar on a window edge comes once', async () => {
    // Every window gets the same answer: the windows not holding 2024-01-03 must drop its bars.
    const { fetch, urls } = fakeFetch(bySymbol({ AAPL: 'aapl-1m.json' }));
    const rows = await collect(
      provider({ client: fetch, interval: '1m', from: new Date('2023-12-27T14:32:00Z'), to: new Date('2024-01-12T00:00:00Z') }),
    );
    expect(urls.map((url) => [url.searchParams.get('period1'), url.searchParams.get('period2')])).toEqual([
      [seconds('2023-12-27T14:32:00Z'), seconds('2024-01-03T14:32:00Z')],
      [seconds('2024-01-03T14:32:00Z'), seconds('2024-01-10T14:32:00Z')],
      [seconds('2024-01-10T14:32:00Z'), seconds('2024-01-12T00:00:00Z')],
    ]);
    // 14:30 and 14:31 belong to the first window, 14:32 (the edge) to 14:34 to the second.
    expect(rows.map((row) => row.fields?.timestamp)).toEqual([
      '2024-01-03T14:30:00Z',
      '2024-01-03T14:31:00Z',
      '2024-01-03T14:32:00Z',
      '2024-01-03T14:33:00Z',
      '2024-01-03T14:34:00Z',
    ]);
    expect(rows.map((row) => row.line)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('YahooProvider: exchanges east of Greenwich', () => {
  it('dates Tokyo bars (stamped 00:00Z, 09:00 JST) by their Tokyo day', async () => {
    const { fetch, urls } = fakeFetch(bySymbol({ '7203.T': '7203-t-1d.json' }));
    const rows = await collect(provider({ client: fetch, symbols: ['7203.T'] }));
    expect(urls[0]!.pathname).toBe('/v8/finance/chart/7203.T');
    expect(rows.map((row) => [row.fields?.timestamp, row.fields?.close])).toEqual([
      ['2024-01-04', '2665.5'],
      ['2024-01-05', '2690.5'],
    ]);
  });

  it('dates a Sydney bar stamped 2024-01-03T23:00Z as 2024-01-04, never by its UTC date', async () => {
    const { fetch } = fakeFetch(bySymbol({ 'BHP.AX': 'bhp-ax-1d.json' }));
    const rows = await collect(provider({ client: fetch, symbols: ['BHP.AX'] }));
    expect(JSON.parse(rows[0]!.raw).timestamp).toBe(Date.parse('2024-01-03T23:00:00Z') / 1000);
    expect(rows.map((row) => row.fields?.timestamp)).toEqual(['2024-01-04', '2024-01-05']);
  });

  it("asks a day early, so that a range starting 2024-01-04 keeps Sydney's 2024-01-04 bar (stamped 2024-01-03T23:00Z)", async () => {
    const { fetch, urls } = fakeFetch(bySymbol({ 'BHP.AX': 'bhp-ax-1d.json' }));
    const rows = await collect(provider({ client: fetch, symbols: ['BHP.AX'], from: new Date('2024-01-04T00:00:00Z'), to: new Date('2024-01-05T00:00:00Z') }));
    expect(urls[0]!.searchParams.get('period1')).toBe(seconds('2024-01-03T00:00:00Z'));
    expect(urls[0]!.searchParams.get('period2')).toBe(seconds('2024-01-06T00:00:00Z'));
    // The answer also holds 2024-01-05, outside the range: left out.
    expect(rows.map((row) => row.fields?.timestamp)).toEqual(['2024-01-04']);
  });
});

describe('YahooProvider: holes and failures', () => {
  it('yields a bar without prices as a provider_null_bar row, and a missing volume as absent', async () => {
    const { fetch } = fakeFetch(bySymbol({ MSFT: 'msft-1d-holes.json' }));
    const rows = await collect(provider({ client: fetch, symbols: ['MSFT'], from: new Date('2024-01-08T00:00:00Z'), to: new Date('2024-01-12T00:00:00Z') }));
    expect(rows.map((row) => row.line)).toEqual([1, 2, 3, 4]);
    expect(rows[0]!.fields?.timestamp).toBe('2024-01-08');
    expect(rows[1]).toEqual({
      line: 2,
      raw: JSON.stringify({ symbol: 'MSFT', timestamp: 1704810600, open: null, high: null, low: null, close: null, volume: null, adjclose: null }),
      problem: { rule: 'provider_null_bar', detail: expect.stringContaining('MSFT 2024-01-09') },
    });
    expect(rows[1]!.fields).toBeUndefined();
    expect(rows[2]!.fields).toMatchObject({ timestamp: '2024-01-10', close: '382.77', volume: undefined });
    expect(rows[3]!.fields).toMatchObject({ timestamp: '2024-01-11', volume: '27850800' });
  });

  it('isolates an unknown symbol (404 "No data found"): one provider_error row, the others load', async () => {
    const { fetch, urls } = fakeFetch(bySymbol({ AAPL: 'aapl-1d.json', '7203.T': '7203-t-1d.json' }));
    const rows = await collect(provider({ client: fetch, symbols: ['AAPL', 'NOSUCHSYMBOL', '7203.T'] }));

    // 404 is not retried: one request per symbol.
    expect(urls.map((url) => url.pathname.split('/').pop())).toEqual(['AAPL', 'NOSUCHSYMBOL', '7203.T']);
    expect(rows.map((row) => row.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rows.filter((row) => row.fields?.symbol === 'AAPL')).toHaveLength(4);
    expect(rows.filter((row) => row.fields?.symbol === '7203.T')).toHaveLength(2);
    const failure = rows[4]!;
    expect(failure.problem?.rule).toBe('provider_error');
    expect(failure.problem?.detail).toContain('NOSUCHSYMBOL');
    expect(failure.problem?.detail).toContain('No data found, symbol may be delisted');
    expect(JSON.parse(failure.raw)).toMatchObject({ symbol: 'NOSUCHSYMBOL' });
  });

  it('stops asking for an unknown symbol after its first window', async () => {
    const { fetch, urls } = fakeFetch(bySymbol({}));
    const rows = await collect(
      provider({ client: fetch, symbols: ['NOSUCHSYMBOL'], interval: '1m', from: new Date('2024-01-01T00:00:00Z'), to: new Date('2024-01-20T00:00:00Z') }),
    );
    expect(urls).toHaveLength(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.problem?.rule).toBe('provider_error');
  });

  it('retries a 429 after its Retry-After, then loads', async () => {
    const { waits, sleep } = fakeSleep();
    const { fetch, urls } = fakeFetch((_url, _symbol, call) =>
      call === 1 ? new Response('Too Many Requests\r\n', { status: 429, headers: { 'retry-after': '3' } }) : jsonResponse(fixture('aapl-1d.json')),
    );
    const rows = await collect(provider({ client: fetch, sleep }));
    expect(urls).toHaveLength(2);
    expect(urls[1]!.href).toBe(urls[0]!.href);
    expect(waits).toContain(3000);
    expect(rows.map((row) => row.fields?.timestamp)).toEqual(['2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05']);
  });

  it('turns retries exhausted on 5xx into a provider_error row and goes on with the next symbol', async () => {
    const { fetch, urls } = fakeFetch((_url, symbol) =>
      symbol === 'AAPL' ? new Response('<html>Bad Gateway</html>', { status: 502 }) : jsonResponse(fixture('7203-t-1d.json')),
    );
    const rows = await collect(provider({ client: fetch, symbols: ['AAPL', '7203.T'], retry: { attempts: 3 } }));
    expect(urls.map((url) => url.pathname.split('/').pop())).toEqual(['AAPL', 'AAPL', 'AAPL', '7203.T']);
    expect(rows[0]!.problem).toEqual({ rule: 'provider_error', detail: expect.stringContaining('HTTP 502') });
    expect(rows.slice(1).map((row) => row.fields?.timestamp)).toEqual(['2024-01-04', '2024-01-05']);
  });

  it('does not retry a 4xx text answer, and reports it without printing to the console', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { fetch, urls } = fakeFetch(() => new Response('Unauthorized', { status: 401 }));
    const rows = await collect(provider({ client: fetch }));
    expect(urls).toHaveLength(1);
    expect(rows).toEqual([{ line: 1, raw: expect.any(String), problem: { rule: 'provider_error', detail: expect.stringContaining('HTTP 401: Unauthorized') } }]);
    expect(consoleError).not.toHaveBeenCalled();
    consoleError.mockRestore();
  });

  it('reports a symbol whose whole range has no bar as provider_no_data', async () => {
    const { fetch } = fakeFetch(() => jsonResponse(emptyChart('AAPL')));
    const rows = await collect(provider({ client: fetch }));
    expect(rows).toEqual([
      { line: 1, raw: expect.any(String), problem: { rule: 'provider_no_data', detail: expect.stringContaining('AAPL: Yahoo Finance has no 1d bars') } },
    ]);
  });

  it('turns an answer yahoo-finance2 cannot validate into provider_error, with its log lines sent to onLibraryLog', async () => {
    const broken = JSON.parse(fixture('aapl-1d.json'));
    delete broken.chart.result[0].meta.exchangeTimezoneName;
    const { fetch } = fakeFetch(() => jsonResponse(JSON.stringify(broken)));
    const logs: Array<[LibraryLogLevel, string]> = [];
    const rows = await collect(provider({ client: fetch, onLibraryLog: (level, message) => logs.push([level, message]) }));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.problem).toEqual({ rule: 'provider_error', detail: expect.stringContaining('Failed Yahoo Schema validation (/meta: Missing required properties') });
    expect(rows[0]!.problem?.detail).toContain('exchangeTimezoneName');
    expect(logs.some(([level, message]) => level === 'error' && message.includes('did not validate'))).toBe(true);
    expect(logs.some(([, message]) => message.includes('"exchangeTimezoneName"'))).toBe(true);
  });
});

describe('YahooProvider: the client', () => {
  it('filters the Node >= 22 warning of yahoo-finance2 3.x, and chart() works on this Node', async () => {
    const { fetch } = fakeFetch(bySymbol({ AAPL: 'aapl-1d.json' }));
    const logs: string[] = [];
    const rows = await collect(provider({ client: fetch, onLibraryLog: (_level, message) => logs.push(message) }));
    expect(rows).toHaveLength(4);
    expect(logs.filter((message) => message.includes('Unsupported environment'))).toEqual([]);
  });

  it('uses an injected chart client as it is', async () => {
    const calls: Array<[string, unknown]> = [];
    const client = {
      chart: async (symbol: string, options: unknown) => {
        calls.push([symbol, options]);
        return JSON.parse(fixture('bhp-ax-1d.json')).chart.result[0];
      },
    };
    const rows = await collect(provider({ client, symbols: ['BHP.AX'] }));
    expect(calls).toEqual([
      ['BHP.AX', { period1: new Date('2024-01-01T00:00:00Z'), period2: new Date('2024-01-07T00:00:00Z'), interval: '1d', includePrePost: false, return: 'object' }],
    ]);
    expect(rows.map((row) => row.fields?.timestamp)).toEqual(['2024-01-04', '2024-01-05']);
  });

  it('paces requests at requestsPerSecond', async () => {
    const { waits, sleep } = fakeSleep();
    const { fetch, urls } = fakeFetch(bySymbol({ AAPL: 'aapl-1d.json', '7203.T': '7203-t-1d.json', 'BHP.AX': 'bhp-ax-1d.json' }));
    // The clock stands still, so the limiter's waits are exactly its schedule.
    await collect(provider({ client: fetch, symbols: ['AAPL', '7203.T', 'BHP.AX'], requestsPerSecond: 4, sleep, now: () => 0 }));
    expect(urls).toHaveLength(3);
    expect(waits).toEqual([250, 500]);
  });

  it('refuses an empty symbol list and a range that ends before it starts', () => {
    const { fetch } = fakeFetch(bySymbol({}));
    expect(() => provider({ client: fetch, symbols: [' '] })).toThrow(UserFacingError);
    expect(() => provider({ client: fetch, from: new Date('2024-02-01'), to: new Date('2024-01-01') })).toThrow(/not before the end/);
  });
});

describe('API values as text', () => {
  it('plainDecimal writes numbers without an exponent', () => {
    expect(plainDecimal(1e-7)).toBe('0.0000001');
    expect(plainDecimal(-2.5e-8)).toBe('-0.000000025');
    expect(plainDecimal(1.5e21)).toBe('1500000000000000000000');
    expect(plainDecimal(123.45)).toBe('123.45');
    expect(plainDecimal(82488700)).toBe('82488700');
    expect(plainDecimal(-0)).toBe('0');
    expect(() => plainDecimal(Number.NaN)).toThrow(RangeError);
  });

  it("yahooPrice recovers the decimal behind Yahoo's 32-bit floats, and keeps other numbers", () => {
    expect(yahooPrice(Math.fround(185.64))).toBe('185.64');
    expect(yahooPrice(Math.fround(0.0001234))).toBe('0.0001234');
    expect(yahooPrice(Math.fround(16547.496))).toBe('16547.496');
    expect(yahooPrice(0.1)).toBe('0.1');
    expect(yahooPrice(184.266831)).toBe('184.266831');
    expect(yahooPrice(null)).toBeUndefined();
  });

  it('exchangeLocalDate takes the calendar date in the exchange zone', () => {
    expect(exchangeLocalDate(Date.parse('2024-01-03T23:00:00Z'), 'Australia/Sydney')).toBe('2024-01-04');
    expect(exchangeLocalDate(Date.parse('2024-01-04T00:00:00Z'), 'Asia/Tokyo')).toBe('2024-01-04');
    expect(exchangeLocalDate(Date.parse('2024-01-02T14:30:00Z'), 'America/New_York')).toBe('2024-01-02');
    expect(exchangeLocalDate(Date.parse('2024-01-02T04:59:59Z'), 'America/New_York')).toBe('2024-01-01');
    expect(() => exchangeLocalDate(0, '')).toThrow(RangeError);
    expect(() => exchangeLocalDate(0, 'Mars/Olympus')).toThrow(RangeError);
  });

  it('utcTimestamp writes whole seconds without milliseconds', () => {
    expect(utcTimestamp(Date.parse('2024-01-03T14:30:00Z'))).toBe('2024-01-03T14:30:00Z');
    expect(utcTimestamp(Date.parse('2024-01-03T14:30:00.250Z'))).toBe('2024-01-03T14:30:00.250Z');
  });
});
