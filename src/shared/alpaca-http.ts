import { parseRetryAfter } from '../services/data-ingestion/providers/retry.ts';

/** HTTP conventions of Alpaca's APIs (market data and trading), shared by both adapters. */

/** Alpaca's error bodies are {"code": 40110000, "message": "..."}; otherwise the text itself. */
export function alpacaErrorMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') {
      return (parsed as { message: string }).message;
    }
  } catch {
    // Not JSON (a proxy's HTML page, plain text): the text is the message.
  }
  return body.trim().slice(0, 200) || '(empty body)';
}

/** Retry-After, or else for a 429 X-RateLimit-Reset (the epoch second the per-minute quota refills). */
export function alpacaRetryAfterMs(status: number, headers: Headers, nowMs: number): number | undefined {
  const retryAfter = parseRetryAfter(headers.get('retry-after'), nowMs);
  if (retryAfter !== undefined || status !== 429) return retryAfter;
  const reset = Number(headers.get('x-ratelimit-reset') ?? Number.NaN);
  return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - nowMs) : undefined;
}
