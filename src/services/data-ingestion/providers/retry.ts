/**
 * Retrying API requests that failed for a passing reason: the network, HTTP 429 (too many
 * requests) and 5xx. Other 4xx mean the request itself is wrong (bad symbol, bad key) and would
 * fail the same way again, so they are never retried.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelay } from '../../../db/transaction.ts';

/** Waits `ms` milliseconds; rejects when `signal` aborts. Injected by tests to avoid real waits. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real wait, on Node's timers. */
export const realSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, signal ? { signal } : undefined);
};

/** An HTTP response that was not a success, with the server's Retry-After when it sent one. */
export class HttpStatusError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** From the Retry-After header, in milliseconds from when the response arrived. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpStatusError';
  }
}

/** IMF-fixdate, RFC 850 and asctime dates all start with a day name and hold an hh:mm:ss. */
const HTTP_DATE = /^[A-Za-z]{3,9},? .*\d{2}:\d{2}:\d{2}/;

/**
 * Reads a Retry-After header: either delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), as milliseconds to wait from `nowMs` (never negative).
 * Undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Only a day-name-first HTTP-date: Date.parse alone would read "-5" as the year -5.
  if (!HTTP_DATE.test(value)) return undefined;
  const dateMs = Date.parse(value);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}

/** Node's codes for a connection that failed or broke; trying again later may succeed. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** True for HTTP statuses worth another try: 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * The default retry rule: an HttpStatusError (or yahoo-finance2's HTTPError, whose `code` is the
 * status) with 429 or 5xx, or a network failure (undici's "fetch failed" TypeError, or an error
 * carrying one of Node's connection error codes, itself or in its cause). An abort is never retried.
 */
export function isTransientError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error.name === 'AbortError') return false;
  if (error instanceof HttpStatusError) return isRetryableStatus(error.status);
  const code = (error as { code?: unknown }).code;
  if (error.name === 'HTTPError' && typeof code === 'number') return isRetryableStatus(code);
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
  // undici reports every connection failure as TypeError("fetch failed") with the reason as cause.
  if (error instanceof TypeError && error.message === 'fetch failed') return true;
  return error.cause !== undefined && isTransientError(error.cause, depth + 1);
}

export interface RetryOptions {
  /** Attempts in all, the first included; default 4. */
  attempts?: number;
  /** The first retry waits up to this long, doubling each time (full jitter); default 500 ms. */
  baseDelayMs?: number;
  /** No backoff wait is longer than this; default 30 000 ms. */
  maxDelayMs?: number;
  /**
   * A server's Retry-After is obeyed as given (not capped by maxDelayMs), up to this long; when it
   * asks for more, the error is thrown instead of waiting; default 120 000 ms.
   */
  maxRetryAfterMs?: number;
  /** Which errors are worth another attempt; default isTransientError. */
  isRetryable?: (error: unknown) => boolean;
  /** The wait between attempts; default realSleep (tests pass a fake that records and returns). */
  sleep?: Sleep;
  /** Called before each wait, e.g. to log it. `attempt` is the attempt that failed (1-based). */
  onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
  /** Stops waiting and retrying when aborted. */
  signal?: AbortSignal;
}

/**
 * Runs `fn` until it succeeds, retrying retryable failures with full-jitter exponential backoff
 * (a random wait between 0 and baseDelayMs·2^(attempt-1), capped at maxDelayMs), or the
 * server's Retry-After when the error carries one. Throws the last error when attempts run out
 * or the error is not retryable.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 4);
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
  const isRetryable = options.isRetryable ?? isTransientError;
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 1; ; attempt += 1) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      const retryAfterMs = error instanceof HttpStatusError ? error.retryAfterMs : undefined;
      if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) throw error;
      const delayMs = retryAfterMs ?? backoffDelay(attempt, baseDelayMs, maxDelayMs);
      options.onRetry?.({ error, attempt, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}
