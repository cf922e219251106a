/**
 * Bars from Yahoo Finance, through yahoo-finance2's chart() module (Yahoo's v8 chart API).
 *
 * Yahoo answers with parallel arrays: epoch seconds in `timestamp`, prices in
 * `indicators.quote[0]`, and the exchange's IANA zone in `meta.exchangeTimezoneName`. Each
 * array position becomes one InputRow: intraday bars as UTC instants, daily and longer bars as
 * the exchange-local date (Yahoo stamps a daily bar with the session's opening instant, which
 * for Sydney or Tokyo falls on the previous UTC day).
 */
import { inspect } from 'node:util';
import YahooFinance from 'yahoo-finance2';
import type { ChartOptionsWithReturnObject, ChartResultObject } from 'yahoo-finance2/modules/chart';
import { UserFacingError } from '../../../db/errors.ts';
import type { BarFields, BarProvider, InputRow } from '../input-row.ts';
import { type Interval, isDailyOrLonger } from '../interval.ts';
import { errorMessage, exchangeLocalDate, plainDecimal, problemRow, type ProviderRule, utcTimestamp } from './api-rows.ts';
import { RateLimiter } from './rate-limiter.ts';
import { HttpStatusError, isRetryableStatus, parseRetryAfter, type RetryOptions, type Sleep, withRetry } from './retry.ts';

/**
 * Yahoo's name for each tradedb interval. Yahoo takes "60m" and "1h" alike; "60m" is its own.
 * Beware: Yahoo's 60m bars start at the session open (09:30, 10:30... in New York), not on the
 * hour, so tradedb's alignment rule rejects them for exchanges that open on a half hour.
 */
export const YAHOO_INTERVALS = {
  '1m': '1m',
  '5m': '5m',
  '15m': '15m',
  '30m': '30m',
  '1h': '60m',
  '1d': '1d',
  '1wk': '1wk',
  '1mo': '1mo',
} as const satisfies Record<Interval, ChartOptionsWithReturnObject['interval']>;

const DAY_MS = 86_400_000;
/**
 * The longest span one request may cover. Yahoo refuses more than 8 days of 1m bars per request
 * (and any older than 30 days), 2m–30m bars older than 60 days, and 60m bars older than 730 days;
 * longer ranges are split into windows a little under those limits.
 */
const MAX_REQUEST_SPAN_MS: Record<Exclude<Interval, '1d' | '1wk' | '1mo'>, number> = {
  '1m': 7 * DAY_MS,
  '5m': 59 * DAY_MS,
  '15m': 59 * DAY_MS,
  '30m': 59 * DAY_MS,
  '1h': 729 * DAY_MS,
};

/** The part of a yahoo-finance2 instance this provider uses (tests may pass their own). */
export interface YahooChartClient {
  chart(symbol: string, options: ChartOptionsWithReturnObject): Promise<ChartResultObject>;
}

export type LibraryLogLevel = 'info' | 'warn' | 'error' | 'debug';

export interface YahooProviderOptions {
  /** Yahoo symbols as Yahoo spells them ("AAPL", "7203.T", "BHP.AX", "EURUSD=X"). */
  symbols: string[];
  interval: Interval;
  /** Start of the range (inclusive). For daily and longer bars, its UTC date is the first bar date. */
  from: Date;
  /** End of the range (exclusive); default now. For daily and longer bars, the date of the instant before it is the last. */
  to?: Date;
  /**
   * A yahoo-finance2 instance (or anything with its chart()), or the `fetch` to build one with;
   * default a new YahooFinance on globalThis.fetch.
   */
  client?: YahooChartClient | typeof fetch;
  /** Our own pacing of chart() calls; default 2 requests per second. */
  requestsPerSecond?: number;
  /** Retries of one chart() call; defaults of withRetry (4 attempts, 500 ms base backoff). */
  retry?: Omit<RetryOptions, 'signal'>;
  /** Include pre- and post-market bars in intraday series; default false (the regular session). */
  includePrePost?: boolean;
  /**
   * Receives yahoo-finance2's own log lines (validation failures, notices), except its warning
   * that Node 20 is below its supported 22, which is expected here. Default: warn and error lines
   * to console.warn, info and debug dropped. Used only when this provider builds the client.
   */
  onLibraryLog?: (level: LibraryLogLevel, message: string) => void;
  /** Clock for the default `to` and the pacing; default Date.now. */
  now?: () => number;
  /** The wait for pacing and retries; default real timers (tests pass a fake that returns at once). */
  sleep?: Sleep;
}

export class YahooProvider implements BarProvider {
  readonly kind = 'yahoo';
  private readonly symbols: string[];
  private readonly now: () => number;

  constructor(private readonly options: YahooProviderOptions) {
    this.symbols = options.symbols.map((symbol) => symbol.trim()).filter((symbol) => symbol !== '');
    this.now = options.now ?? Date.now;
    if (this.symbols.length === 0) throw new UserFacingError('Yahoo Finance: no symbols given.');
    checkRange(options.from, options.to ?? new Date(this.now()));
  }

  async *rows(signal?: AbortSignal): AsyncIterable<InputRow> {
    const { interval } = this.options;
    const client = this.chartClient(signal);
    const limiter = new RateLimiter({ requestsPerSecond: this.options.requestsPerSecond ?? 2, now: this.now, sleep: this.options.sleep });
    const fromMs = this.options.from.getTime();
    const toMs = (this.options.to ?? new Date(this.now())).getTime();
    const windows = requestWindows(fromMs, toMs, interval);
    let line = 0;
    for (const symbol of this.symbols) {
      let barCount = 0;
      let failed = false;
      for (const window of windows) {
        signal?.throwIfAborted();
        let chart: ChartResultObject;
        try {
          chart = await withRetry(
            async () => {
              await limiter.acquire(signal);
              return client.chart(symbol, {
                period1: new Date(window.startMs),
                period2: new Date(window.endMs),
                interval: YAHOO_INTERVALS[interval],
                includePrePost: this.options.includePrePost ?? false,
                return: 'object',
              });
            },
            { sleep: this.options.sleep, ...this.options.retry, signal },
          );
        } catch (error) {
          if (signal?.aborted) throw error;
          failed = true;
          line += 1;
          yield providerErrorRow(line, symbol, window, error);
          // An unknown symbol fails the same way in every window; a refused window (too old for
          // 1m bars) says nothing about the next one.
          if (isUnknownSymbolError(error)) break;
          continue;
        }
        for (const record of chartRecords(symbol, chart, interval, window)) {
          line += 1;
          if ('fields' in record) barCount += 1;
          yield { line, ...record };
        }
      }
      if (barCount === 0 && !failed) {
        line += 1;
        const range = { symbol, from: utcTimestamp(fromMs), to: utcTimestamp(toMs) };
        yield problemRow(line, range, 'provider_no_data', `${symbol}: Yahoo Finance has no ${interval} bars from ${range.from} to ${range.to}`);
      }
    }
  }

  private chartClient(signal: AbortSignal | undefined): YahooChartClient {
    const { client } = this.options;
    if (client !== undefined && typeof client !== 'function') return client;
    return createYahooClient(client ?? globalThis.fetch, this.options.onLibraryLog ?? defaultLibraryLog, signal);
  }
}

/**
 * A yahoo-finance2 instance on `fetchImpl`, whose log lines go to `onLog` (minus the expected
 * Node-version warning). Failed HTTP answers are screened before the library sees them: Yahoo's
 * own JSON errors ({"chart": {"error": {"description": "No data found, ..."}}}) pass through for
 * the library to throw; anything else becomes an HttpStatusError carrying the status and the
 * server's Retry-After, which yahoo-finance2 would drop (it keeps no headers, and prints the URL
 * of such a request on the console).
 */
export function createYahooClient(
  fetchImpl: typeof fetch,
  onLog: (level: LibraryLogLevel, message: string) => void,
  signal?: AbortSignal,
) {
  const screenedFetch: typeof fetch = async (input, init) => {
    const response = await fetchImpl(input, signal ? { ...init, signal } : init);
    if (response.ok) return response;
    const body = await response.text();
    if (!isRetryableStatus(response.status) && isYahooErrorBody(body)) {
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    }
    const excerpt = body.trim().slice(0, 200);
    throw new HttpStatusError(
      `Yahoo Finance answered HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`,
      response.status,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  };
  const forward = (level: LibraryLogLevel) => (...args: unknown[]) => {
    const message = args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg, { depth: 4 }))).join(' ');
    if (isNodeVersionWarning(message)) return;
    onLog(level, message);
  };
  return new YahooFinance({
    fetch: screenedFetch,
    logger: { info: forward('info'), warn: forward('warn'), error: forward('error'), debug: forward('debug'), dir: forward('debug') },
    suppressNotices: ['yahooSurvey'],
    // On a validation failure yahoo-finance2 would ask npmjs.org for its latest version.
    versionCheck: false,
  });
}

/** True for Yahoo's JSON error envelope, e.g. {"chart": {"result": null, "error": {"code": "Not Found", ...}}}. */
function isYahooErrorBody(body: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false; // an HTML or text error page: not Yahoo's envelope
  }
  if (!parsed || typeof parsed !== 'object') return false;
  const values = Object.values(parsed);
  const error = values.length === 1 ? (values[0] as { error?: unknown } | null)?.error : undefined;
  return typeof error === 'object' && error !== null;
}

/** yahoo-finance2 3.x warns on construction that it wants Node >= 22; it works on 20 (tested). */
function isNodeVersionWarning(message: string): boolean {
  return message.includes('Unsupported environment') && message.includes('Requires Node');
}

/** yahoo-finance2's warnings and errors on stderr; its chatter dropped. */
export function defaultLibraryLog(level: LibraryLogLevel, message: string): void {
  if (level === 'warn' || level === 'error') console.warn(`yahoo-finance2 ${level}: ${message}`);
}

/** One chart() request: the period asked of Yahoo, and which bars of its answer are ours. */
interface RequestWindow {
  startMs: number;
  endMs: number;
  /** Whether the bar at `epochMs`, dated `timestamp`, belongs to this window and to the range. */
  owns: (epochMs: number, timestamp: string) => boolean;
}

/**
 * The requests for [from, to). Intraday: consecutive windows of at most the interval's span;
 * windows meet at their edges, and a bar on an edge belongs to the later one.
 * Daily and longer: one request a day wider on each side, keeping the bars whose exchange-local
 * date lies from the date of `from` to the date of `to` (exclusive instant): a daily bar is
 * stamped with its session's open, which east of Greenwich falls before the UTC midnight of its
 * date (Sydney's 2024-01-04 opens 2024-01-03T23:00Z), so asking from that midnight would lose it.
 */
function requestWindows(fromMs: number, toMs: number, interval: Interval): RequestWindow[] {
  if (interval === '1d' || interval === '1wk' || interval === '1mo') {
    const firstDate = utcTimestamp(fromMs).slice(0, 10);
    const lastDate = utcTimestamp(toMs - 1).slice(0, 10);
    return [{ startMs: fromMs - DAY_MS, endMs: toMs + DAY_MS, owns: (_epochMs, date) => date >= firstDate && date <= lastDate }];
  }
  const maxSpanMs = MAX_REQUEST_SPAN_MS[interval];
  const windows: RequestWindow[] = [];
  for (let startMs = fromMs; startMs < toMs; startMs += maxSpanMs) {
    const endMs = Math.min(toMs, startMs + maxSpanMs);
    windows.push({ startMs, endMs, owns: (epochMs) => epochMs >= startMs && epochMs < endMs });
  }
  return windows;
}

function checkRange(from: Date, to: Date): void {
  if (Number.isNaN(from.getTime())) throw new UserFacingError('Yahoo Finance: the start date is not a valid date.');
  if (Number.isNaN(to.getTime())) throw new UserFacingError('Yahoo Finance: the end date is not a valid date.');
  if (from.getTime() >= to.getTime()) {
    throw new UserFacingError(`Yahoo Finance: the start ${from.toISOString()} is not before the end ${to.toISOString()}.`);
  }
}

/** A row before its line number: a bar's fields, or a problem. */
type RecordRow = { raw: string } & ({ fields: BarFields } | { problem: { rule: ProviderRule; detail: string } });

/** One row per array position of a chart answer, in Yahoo's order. */
function* chartRecords(symbol: string, chart: ChartResultObject, interval: Interval, window: RequestWindow): Generator<RecordRow> {
  const timestamps = chart.timestamp ?? [];
  if (timestamps.length === 0) return;
  const quote = chart.indicators.quote[0];
  const adjclose = chart.indicators.adjclose?.[0]?.adjclose;
  const timeZone = chart.meta.exchangeTimezoneName;
  const daily = isDailyOrLonger(interval);
  for (const [index, epochSeconds] of timestamps.entries()) {
    const epochMs = epochSeconds * 1000;
    const bar = {
      open: quote?.open[index] ?? null,
      high: quote?.high[index] ?? null,
      low: quote?.low[index] ?? null,
      close: quote?.close[index] ?? null,
      volume: quote?.volume[index] ?? null,
    };
    const raw = JSON.stringify({ symbol, timestamp: epochSeconds, ...bar, ...(adjclose ? { adjclose: adjclose[index] ?? null } : {}) });
    let timestamp: string;
    try {
      timestamp = daily ? exchangeLocalDate(epochMs, timeZone) : utcTimestamp(epochMs);
    } catch (error) {
      // An unknown or missing zone name: the bar's date cannot be known, so it is not guessed.
      yield { raw, problem: { rule: 'provider_error', detail: `${symbol}: cannot date the bar at ${utcTimestamp(epochMs)}: ${errorMessage(error)}` } };
      continue;
    }
    // Bars of the margin asked for around the range, or of the neighbouring window, are not ours.
    if (!window.owns(epochMs, timestamp)) continue;
    if (bar.open === null && bar.high === null && bar.low === null && bar.close === null) {
      yield { raw, problem: { rule: 'provider_null_bar', detail: `${symbol} ${timestamp}: Yahoo Finance lists this bar without prices` } };
      continue;
    }
    const fields: BarFields = {
      symbol,
      timestamp,
      open: yahooPrice(bar.open),
      high: yahooPrice(bar.high),
      low: yahooPrice(bar.low),
      close: yahooPrice(bar.close),
      // A missing value stays absent, for the pipeline to reject as missing_field.
      volume: bar.volume === null ? undefined : plainDecimal(bar.volume),
    };
    yield { raw, fields };
  }
}

/**
 * A Yahoo price as decimal text. Yahoo keeps prices as 32-bit floats, so 185.64 arrives as the
 * double 185.63999938964844; when a number is exactly a 32-bit float, the shortest decimal that
 * reads back as that float is what was meant (185.64). Any other number is kept as it is.
 */
export function yahooPrice(value: number | null): string | undefined {
  if (value === null) return undefined;
  if (Math.fround(value) === value) {
    for (let digits = 1; digits <= 9; digits += 1) {
      const candidate = Number(value.toPrecision(digits));
      if (Math.fround(candidate) === value) return plainDecimal(candidate);
    }
  }
  return plainDecimal(value);
}

function providerErrorRow(line: number, symbol: string, window: RequestWindow, error: unknown): InputRow {
  const request = { symbol, from: utcTimestamp(window.startMs), to: utcTimestamp(window.endMs), error: yahooErrorMessage(error) };
  return problemRow(line, request, 'provider_error', `${symbol}: Yahoo Finance request for ${request.from} to ${request.to} failed: ${request.error}`);
}

/**
 * The error's message; for yahoo-finance2's FailedYahooValidationError, whose message is only
 * "Failed Yahoo Schema validation", with what failed (e.g. "/meta: Missing required properties
 * exchangeTimezoneName").
 */
function yahooErrorMessage(error: unknown): string {
  const failures = (error as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(failures) || failures.length === 0) return errorMessage(error);
  const described = failures.slice(0, 3).map((failure: { instancePath?: string; message?: string; params?: unknown }) =>
    `${failure.instancePath || '/'}: ${failure.message ?? 'invalid'} ${JSON.stringify(failure.params ?? {})}`,
  );
  return `${errorMessage(error)} (${described.join('; ')}${failures.length > 3 ? '; …' : ''})`;
}

/** Yahoo's answer for a symbol it does not know: 404 "No data found, symbol may be delisted". */
function isUnknownSymbolError(error: unknown): boolean {
  if (error instanceof HttpStatusError) return error.status === 404;
  return error instanceof Error && /no data found|symbol may be delisted|not found/i.test(error.message);
}
