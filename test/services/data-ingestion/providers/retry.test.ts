import { afterEach, describe, expect, it, vi } from 'vitest';
import { HttpStatusError, isTransientError, parseRetryAfter, withRetry } from '../../../../src/services/data-ingestion/providers/retry.ts';

/** A sleep that records the waits asked for and returns at once. */
function fakeSleep() {
  const waits: number[] = [];
  const sleep = async (ms: number, signal?: AbortSignal) => {
    signal?.throwIfAborted();
    waits.push(ms);
  };
  return { waits, sleep };
}

/** A function failing with `errors` in turn, then returning "ok"; counts its calls. */
function failingThen(...errors: unknown[]) {
  const calls: number[] = [];
  const fn = async (attempt: number) => {
    calls.push(attempt);
    const error = errors[calls.length - 1];
    if (error !== undefined) throw error;
    return 'ok';
  };
  return { calls, fn };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('withRetry', () => {
  it('retries a 429 and obeys its Retry-After (seconds) instead of the backoff', async () => {
    const { waits, sleep } = fakeSleep();
    const { calls, fn } = failingThen(new HttpStatusError('HTTP 429', 429, 5000));
    await expect(withRetry(fn, { sleep })).resolves.toBe('ok');
    expect(calls).toEqual([1, 2]);
    expect(waits).toEqual([5000]);
  });

  it('backs off exponentially with full jitter on 5xx, capped at maxDelayMs, and gives up after `attempts`', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { waits, sleep } = fakeSleep();
    const errors = [500, 502, 503, 504].map((status) => new HttpStatusError(`HTTP ${status}`, status));
    const { calls, fn } = failingThen(...errors);
    const onRetry = vi.fn();
    await expect(withRetry(fn, { sleep, baseDelayMs: 400, maxDelayMs: 1000, onRetry })).rejects.toBe(errors[3]);
    // Default 4 attempts: three waits of random·min(1000, 400·2^(n-1)) with random = 0.5.
    expect(calls).toEqual([1, 2, 3, 4]);
    expect(waits).toEqual([200, 400, 500]);
    expect(onRetry.mock.calls.map(([info]) => [info.attempt, info.delayMs])).toEqual([
      [1, 200],
      [2, 400],
      [3, 500],
    ]);
  });

  it('uses the defaults: 4 attempts, 500 ms base', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { waits, sleep } = fakeSleep();
    const { calls, fn } = failingThen(...Array.from({ length: 5 }, () => new HttpStatusError('HTTP 503', 503)));
    await expect(withRetry(fn, { sleep })).rejects.toThrow('HTTP 503');
    expect(calls).toHaveLength(4);
    expect(waits).toEqual([500, 1000, 2000]);
  });

  it.each([400, 401, 403, 404, 422])('never retries HTTP %i', async (status) => {
    const { waits, sleep } = fakeSleep();
    const { calls, fn } = failingThen(new HttpStatusError(`HTTP ${status}`, status));
    await expect(withRetry(fn, { sleep })).rejects.toThrow(`HTTP ${status}`);
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it('retries network failures (undici "fetch failed" with a cause) and succeeds', async () => {
    const { sleep } = fakeSleep();
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { calls, fn } = failingThen(new TypeError('fetch failed', { cause: reset }));
    await expect(withRetry(fn, { sleep })).resolves.toBe('ok');
    expect(calls).toEqual([1, 2]);
  });

  it('throws at once when the server asks to wait longer than maxRetryAfterMs', async () => {
    const { waits, sleep } = fakeSleep();
    const error = new HttpStatusError('HTTP 429', 429, 3_600_000);
    const { calls, fn } = failingThen(error);
    await expect(withRetry(fn, { sleep, maxRetryAfterMs: 60_000 })).rejects.toBe(error);
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it('honours a custom isRetryable', async () => {
    const { sleep } = fakeSleep();
    const { calls, fn } = failingThen(new Error('flaky'), new Error('flaky'));
    await expect(withRetry(fn, { sleep, isRetryable: (error) => (error as Error).message === 'flaky' })).resolves.toBe('ok');
    expect(calls).toEqual([1, 2, 3]);
  });

  it('stops when the signal aborts during a wait', async () => {
    const controller = new AbortController();
    const sleep = async (_ms: number, signal?: AbortSignal) => {
      controller.abort();
      signal?.throwIfAborted();
    };
    const { calls, fn } = failingThen(new HttpStatusError('HTTP 503', 503), new HttpStatusError('HTTP 503', 503));
    await expect(withRetry(fn, { sleep, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toEqual([1]);
  });
});

describe('isTransientError', () => {
  it('accepts 429, 5xx and network failures, and refuses other 4xx, aborts and plain errors', () => {
    expect(isTransientError(new HttpStatusError('', 429))).toBe(true);
    expect(isTransientError(new HttpStatusError('', 599))).toBe(true);
    expect(isTransientError(new HttpStatusError('', 408))).toBe(false);
    expect(isTransientError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientError(new TypeError('fetch failed'))).toBe(true);
    expect(isTransientError(new DOMException('aborted', 'AbortError'))).toBe(false);
    expect(isTransientError(new Error('No data found, symbol may be delisted'))).toBe(false);
    expect(isTransientError('a string')).toBe(false);
  });

  it("reads yahoo-finance2's HTTPError, whose `code` is the HTTP status", () => {
    const httpError = (code: number) => Object.assign(new Error('Too Many Requests'), { name: 'HTTPError', code });
    expect(isTransientError(httpError(429))).toBe(true);
    expect(isTransientError(httpError(502))).toBe(true);
    expect(isTransientError(httpError(404))).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2015-10-21T07:27:30Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP-date as the time left until it, never negative', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now)).toBe(0);
  });

  it('is undefined when absent or unreadable', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});
