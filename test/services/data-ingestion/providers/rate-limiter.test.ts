import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../../src/services/data-ingestion/providers/rate-limiter.ts';

/** A clock that only moves when someone sleeps: sleeping advances it by the wait. */
function fakeClock(startMs = 1_000_000) {
  let nowMs = startMs;
  const waits: number[] = [];
  return {
    waits,
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms;
    },
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      waits.push(ms);
      nowMs += ms;
    },
  };
}

describe('RateLimiter', () => {
  it('spaces requests evenly at the configured rate', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 4, now: clock.now, sleep: clock.sleep });
    const grantedAt: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      await limiter.acquire();
      grantedAt.push(clock.now() - 1_000_000);
    }
    expect(grantedAt).toEqual([0, 250, 500, 750, 1000]);
    expect(clock.waits).toEqual([250, 250, 250, 250]);
  });

  it('lets a burst through at once, then paces', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 10, burst: 3, now: clock.now, sleep: clock.sleep });
    const waited: number[] = [];
    for (let i = 0; i < 5; i += 1) waited.push(await limiter.acquire());
    expect(waited).toEqual([0, 0, 0, 100, 100]);
  });

  it('does not make a caller wait after a quiet spell', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 1, now: clock.now, sleep: clock.sleep });
    await limiter.acquire();
    clock.advance(5000);
    expect(await limiter.acquire()).toBe(0);
    // ...but the next one, right after, waits a full interval.
    expect(await limiter.acquire()).toBe(1000);
  });

  it('gives concurrent callers distinct slots', async () => {
    // The clock stands still: all three ask at the same instant.
    let nowMs = 0;
    const waits: number[] = [];
    const limiter = new RateLimiter({
      requestsPerSecond: 5,
      now: () => nowMs,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const waited = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    expect(waited).toEqual([0, 200, 400]);
    nowMs = 10;
    expect(await limiter.acquire()).toBe(590);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new RateLimiter({ requestsPerSecond: 0 })).toThrow(RangeError);
    expect(() => new RateLimiter({ requestsPerSecond: -1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ requestsPerSecond: Number.NaN })).toThrow(RangeError);
  });

  it('rejects when the signal is already aborted', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 1, now: clock.now, sleep: clock.sleep });
    await expect(limiter.acquire(AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });
});
