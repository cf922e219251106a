/**
 * Bars from Alpaca Market Data API v2: GET {baseUrl}/v2/stocks/bars, several symbols a request,
 * following next_page_token until it is null.
 *
 * Alpaca stamps every bar with an RFC 3339 UTC instant `t`. Intraday bars keep it as it is.
 * Daily, weekly and monthly bars are stamped at New York midnight expressed in UTC
 * (2024-01-02T05:00:00Z in winter, 2024-07-01T04:00:00Z in summer), so their New York calendar
 * date is the bar's date; their UTC instant is never taken as the date.
 */
import { z } from 'zod';
import { UserFacingError } from '../../../db/errors.ts';
import type { BarFields, BarProvider, InputRow } from '../input-row.ts';
import { type Interval, isDailyOrLonger } from '../interval.ts';
import { errorMessage, exchangeLocalDate, plainDecimal, problemRow, utcTimestamp } from './api-rows.ts';
import { RateLimiter } from './rate-limiter.ts';
import { HttpStatusError, type RetryOptions, type Sleep, withRetry } from './retry.ts';
import { alpacaErrorMessage, alpacaRetryAfterMs } from '../../../shared/alpaca-http.ts';

/** Alpaca's timeframe for each tradedb interval. */
export const ALPACA_TIMEFRAMES = {
  '1m': '1Min',
  '5m': '5Min',
  '15m': '15Min',
  '30m': '30Min',
  '1h': '1Hour',
  '1d': '1Day',
  '1wk': '1Week',
  '1mo': '1Month',
} as const satisfies Record<Interval, string>;

/** The zone of Alpaca's US equity sessions, in which daily and longer bars are dated. */
export const ALPACA_TIME_ZONE = 'America/New_York';
export const ALPACA_KEY_ID_ENV = 'ALPACA_API_KEY_ID';
export const ALPACA_SECRET_KEY_ENV = 'ALPACA_API_SECRET_KEY';

export interface AlpacaProviderOptions {
  /** Alpaca symbols ("AAPL", "BRK.B"). */
  symbols: string[];
  interval: Interval;
  /** Start of the range (inclusive). For daily and longer bars, its UTC date is the first bar date. */
  from: Date;
  /**
   * End of the range (exclusive; sent as `end` one millisecond earlier, Alpaca's end being
   * inclusive); default now. For daily and longer bars, the date of the instant before it is the last.
   */
  to?: Date;
  /** Default the environment variable ALPACA_API_KEY_ID. */
  keyId?: string;
  /** Default the environment variable ALPACA_API_SECRET_KEY. Never logged, never in an error message. */
  secretKey?: string;
  /** Default https://data.alpaca.markets. */
  baseUrl?: string;
  /** Default 'iex' (the free plan's feed); 'sip' is every US exchange and needs a subscription for recent data. */
  feed?: 'iex' | 'sip';
  /** Corporate-action adjustment of prices; default 'raw' (prices as traded). */
  adjustment?: 'raw' | 'split' | 'dividend' | 'all';
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Our own pacing of requests; default 3 per second (the free plan allows 200 a minute). */
  requestsPerSecond?: number;
  /** Retries of one page request; defaults of withRetry (4 attempts, 500 ms base backoff). */
  retry?: Omit<RetryOptions, 'signal'>;
  /** Symbols per request; default 100 (keeps the URL short). */
  symbolsPerRequest?: number;
  /** Bars per page, all symbols together, 1 to 10000; default 10000. */
  pageLimit?: number;
  /** Where credentials are read from when not given; default process.env. */
  env?: Record<string, string | undefined>;
  /** Clock for the pacing and for reading X-RateLimit-Reset; default Date.now. */
  now?: () => number;
  /** The wait for pacing and retries; default real timers (tests pass a fake that returns at once). */
  sleep?: Sleep;
}

/** The envelope of a bars page; each bar is read leniently, field by field, so one odd bar is one rejected row. */
const BarsPage = z.object({
  bars: z.record(z.string(), z.array(z.unknown())).nullish(),
  next_page_token: z.string().nullish(),
});
type BarsPage = z.infer<typeof BarsPage>;

export class AlpacaProvider implements BarProvider {
  readonly kind = 'alpaca';
  readonly #keyId: string;
  // Private fields: util.inspect and JSON.stringify of the provider do not show them.
  readonly #secretKey: string;
  /** The options without the credentials, which live only in the private fields above. */
  private readonly options: Omit<AlpacaProviderOptions, 'keyId' | 'secretKey' | 'env'>;
  private readonly symbols: string[];
  private readonly endpoint: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: AlpacaProviderOptions) {
    const { keyId: givenKeyId, secretKey: givenSecretKey, env = process.env, ...rest } = options;
    this.options = rest;
    const keyId = givenKeyId ?? env[ALPACA_KEY_ID_ENV] ?? '';
    const secretKey = givenSecretKey ?? env[ALPACA_SECRET_KEY_ENV] ?? '';
    const missing = [keyId ? undefined : ALPACA_KEY_ID_ENV, secretKey ? undefined : ALPACA_SECRET_KEY_ENV].filter(Boolean);
    if (missing.length > 0) {
      throw new UserFacingError(
        `Alpaca needs API credentials: set ${missing.join(' and ')} in the environment (or pass keyId/secretKey). Keys come from the Alpaca dashboard.`,
      );
    }
    this.#keyId = keyId;
    this.#secretKey = secretKey;
    this.symbols = [...new Set(options.symbols.map((symbol) => symbol.trim().toUpperCase()).filter((symbol) => symbol !== ''))];
    if (this.symbols.length === 0) throw new UserFacingError('Alpaca: no symbols given.');
    const to = options.to ?? new Date((options.now ?? Date.now)());
    if (Number.isNaN(options.from.getTime()) || Number.isNaN(to.getTime()) || options.from.getTime() >= to.getTime()) {
      throw new UserFacingError(`Alpaca: the range ${String(options.from)} to ${String(to)} is not a valid range (start before end).`);
    }
    this.endpoint = `${(options.baseUrl ?? 'https://data.alpaca.markets').replace(/\/+$/, '')}/v2/stocks/bars`;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  async *rows(signal?: AbortSignal): AsyncIterable<InputRow> {
    const limiter = new RateLimiter({ requestsPerSecond: this.options.requestsPerSecond ?? 3, now: this.options.now, sleep: this.options.sleep });
    const daily = isDailyOrLonger(this.options.interval);
    const batchSize = Math.max(1, this.options.symbolsPerRequest ?? 100);
    const batches: string[][] = [];
    for (let start = 0; start < this.symbols.length; start += batchSize) batches.push(this.symbols.slice(start, start + batchSize));
    let line = 0;
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      const barCounts = new Map(batch.map((symbol) => [symbol, 0]));
      let pageToken: string | undefined;
      let failed = false;
      do {
        signal?.throwIfAborted();
        const url = this.pageUrl(batch, pageToken);
        let page: BarsPage;
        try {
          page = await withRetry(() => this.fetchPage(url, limiter, signal), { sleep: this.options.sleep, ...this.options.retry, signal });
        } catch (error) {
          // Refused credentials fail every request alike: the run stops with the reason.
          if (signal?.aborted || error instanceof UserFacingError) throw error;
          failed = true; // the single-symbol requests, if any, report no-data themselves
          // One malformed symbol makes Alpaca refuse the whole request (HTTP 400): ask for each
          // symbol of the batch alone, so that only the bad one fails.
          if (batch.length > 1 && pageToken === undefined && isRequestRefusal(error)) {
            batches.unshift(...batch.map((symbol) => [symbol]));
            break;
          }
          line += 1;
          const message = this.redact(errorMessage(error));
          yield problemRow(line, { symbols: batch, page_token: pageToken ?? null, error: message }, 'provider_error', `${batch.join(', ')}: Alpaca request failed: ${message}`);
          break;
        }
        for (const [symbol, bars] of Object.entries(page.bars ?? {})) {
          barCounts.set(symbol, (barCounts.get(symbol) ?? 0) + bars.length);
          for (const bar of bars) {
            line += 1;
            yield barRow(line, symbol, bar, daily);
          }
        }
        pageToken = page.next_page_token ?? undefined;
      } while (pageToken);
      if (failed) continue;
      for (const [symbol, count] of barCounts) {
        if (count > 0) continue;
        line += 1;
        const range = { symbol, from: utcTimestamp(this.options.from.getTime()), to: this.options.to ? utcTimestamp(this.options.to.getTime()) : 'now' };
        yield problemRow(line, range, 'provider_no_data', `${symbol}: Alpaca has no ${this.options.interval} bars (feed ${this.feed}) from ${range.from} to ${range.to}`);
      }
    }
  }

  private get feed(): string {
    return this.options.feed ?? 'iex';
  }

  private pageUrl(symbols: string[], pageToken: string | undefined): string {
    const { interval, from, to } = this.options;
    // Daily and longer bars are picked by date, as the Yahoo provider does: from the UTC date of
    // `from` through the date of the instant before `to` (each bar is stamped on its own date).
    const daily = isDailyOrLonger(interval);
    const params = new URLSearchParams({
      symbols: symbols.join(','),
      timeframe: ALPACA_TIMEFRAMES[interval],
      start: daily ? `${utcTimestamp(from.getTime()).slice(0, 10)}T00:00:00Z` : utcTimestamp(from.getTime()),
    });
    if (to) params.set('end', daily ? `${utcTimestamp(to.getTime() - 1).slice(0, 10)}T23:59:59Z` : utcTimestamp(to.getTime() - 1));
    params.set('limit', String(this.options.pageLimit ?? 10_000));
    params.set('adjustment', this.options.adjustment ?? 'raw');
    params.set('feed', this.feed);
    if (pageToken) params.set('page_token', pageToken);
    return `${this.endpoint}?${params}`;
  }

  /** One page: 401/403 become a UserFacingError, 429 and 5xx an HttpStatusError withRetry retries. */
  private async fetchPage(url: string, limiter: RateLimiter, signal: AbortSignal | undefined): Promise<BarsPage> {
    await limiter.acquire(signal);
    const response = await this.fetchImpl(url, {
      headers: { 'APCA-API-KEY-ID': this.#keyId, 'APCA-API-SECRET-KEY': this.#secretKey, Accept: 'application/json' },
      signal,
    });
    const body = await response.text();
    if (response.status === 401 || response.status === 403) {
      throw new UserFacingError(
        `Alpaca refused the API key (HTTP ${response.status}: ${this.redact(alpacaErrorMessage(body))}). ` +
          `Check ${ALPACA_KEY_ID_ENV} and ${ALPACA_SECRET_KEY_ENV}, and that the key's plan allows feed=${this.feed}.`,
      );
    }
    if (!response.ok) {
      const retryAfter = alpacaRetryAfterMs(response.status, response.headers, (this.options.now ?? Date.now)());
      throw new HttpStatusError(`Alpaca answered HTTP ${response.status}: ${this.redact(alpacaErrorMessage(body))}`, response.status, retryAfter);
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (error) {
      throw new Error(`Alpaca answered with unreadable JSON (${errorMessage(error)}): ${body.slice(0, 200)}`, { cause: error });
    }
    const page = BarsPage.safeParse(json);
    if (!page.success) throw new Error(`Alpaca answered with an unexpected shape: ${z.prettifyError(page.error)}`);
    return page.data;
  }

  /** Belt and braces: a server message that echoed the secret must not carry it into logs. */
  private redact(text: string): string {
    return text.split(this.#secretKey).join('[secret]');
  }
}

/**
 * How long the server asks us to wait: Retry-After, or else, for a 429, X-RateLimit-Reset (the
 * epoch second at which Alpaca's per-minute quota refills; sent on every answer, so meaningless
 * for a 5xx).
 */

/** A 4xx other than 401/403/429: Alpaca refused the request itself (a malformed symbol, a bad parameter). */
function isRequestRefusal(error: unknown): boolean {
  return error instanceof HttpStatusError && error.status >= 400 && error.status < 500 && error.status !== 429;
}


/** One Alpaca bar {t, o, h, l, c, v, n, vw} as an InputRow. */
function barRow(line: number, symbol: string, bar: unknown, daily: boolean): InputRow {
  const raw = JSON.stringify({ symbol, ...(bar && typeof bar === 'object' ? bar : { bar }) });
  if (!bar || typeof bar !== 'object' || Array.isArray(bar)) {
    return { line, raw, problem: { rule: 'provider_error', detail: `${symbol}: Alpaca sent a bar that is not an object` } };
  }
  const record = bar as Record<string, unknown>;
  const fields: BarFields = {
    symbol,
    timestamp: barTimestamp(record.t, daily),
    open: numberText(record.o),
    high: numberText(record.h),
    low: numberText(record.l),
    close: numberText(record.c),
    volume: numberText(record.v),
    vwap: numberText(record.vw),
    tradeCount: numberText(record.n),
  };
  return { line, raw, fields };
}

/** Intraday: `t` as sent (already a UTC instant). Daily and longer: the New York date of `t`. */
function barTimestamp(t: unknown, daily: boolean): string | undefined {
  if (typeof t !== 'string') return undefined;
  if (!daily) return t;
  const ms = Date.parse(t);
  // Unreadable: passed on as sent, for the pipeline to reject as timestamp_format.
  return Number.isNaN(ms) ? t : exchangeLocalDate(ms, ALPACA_TIME_ZONE);
}

/** A JSON number as plain decimal text; anything else passes as text or stays absent. */
function numberText(value: unknown): string | undefined {
  if (typeof value === 'number') return plainDecimal(value);
  if (typeof value === 'string') return value;
  return undefined;
}
