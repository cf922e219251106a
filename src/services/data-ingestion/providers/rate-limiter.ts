/**
 * Keeping requests under an API's rate limit on our side, so that the server's 429 stays the
 * exception. A token bucket in its "virtual scheduling" form: each call reserves the next free
 * slot at once (synchronously), so concurrent callers never take the same slot.
 */
import { realSleep, type Sleep } from './retry.ts';

export interface RateLimiterOptions {
  /** Sustained rate; must be above zero. */
  requestsPerSecond: number;
  /** Requests allowed back to back after a quiet spell; default 1 (evenly spaced requests). */
  burst?: number;
  /** Current time in ms; default Date.now (tests pass a fake clock). */
  now?: () => number;
  /** The wait; default realSleep (tests pass a fake that advances the fake clock). */
  sleep?: Sleep;
}

export class RateLimiter {
  private readonly intervalMs: number;
  /** How far ahead of the schedule a burst may run. */
  private readonly toleranceMs: number;
  private readonly now: () => number;
  private readonly sleep: Sleep;
  /** The time at which the bucket would be full again if no one asked: the next slot's start. */
  private nextSlotMs = Number.NEGATIVE_INFINITY;

  constructor(options: RateLimiterOptions) {
    if (!(options.requestsPerSecond > 0) || !Number.isFinite(options.requestsPerSecond)) {
      throw new RangeError(`requestsPerSecond must be a positive number, not ${options.requestsPerSecond}`);
    }
    const burst = Math.max(1, Math.floor(options.burst ?? 1));
    this.intervalMs = 1000 / options.requestsPerSecond;
    this.toleranceMs = (burst - 1) * this.intervalMs;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  /**
   * Resolves when a request may be sent. Returns how long it waited (ms), for logs and tests.
   * An abort rejects the wait; the reserved slot is then lost, which only slows later callers.
   */
  async acquire(signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    const now = this.now();
    const slot = Math.max(this.nextSlotMs, now - this.toleranceMs);
    this.nextSlotMs = slot + this.intervalMs;
    const waitMs = Math.max(0, slot - now);
    if (waitMs > 0) await this.sleep(waitMs, signal);
    return waitMs;
  }
}
