import type { CacheStore } from './cache-store.ts';

export interface CacheStats {
  hits: number;
  misses: number;
  /** Loads from the source of truth (PostgreSQL). */
  loads: number;
  /** Misses answered by another process's load (it held the key's lock). */
  waited: number;
  /** Store operations that failed (Redis away): each time the source of truth answered instead. */
  storeErrors: number;
}

export interface ReadThroughOptions {
  /** How long one loader may hold a key against the others (default 5 s). */
  lockTtlMs?: number | undefined;
  /** How often a process waiting for another's load looks for the value (default 20 ms). */
  waitStepMs?: number | undefined;
  onStoreError?: ((error: Error) => void) | undefined;
}

/**
 * A read-through cache in front of PostgreSQL. A miss loads from the source and stores the value
 * with a TTL. Stampedes are held off twice over: in this process, concurrent gets of one key share
 * one load; across processes (Redis), one takes the key's short lock and loads, the others wait for
 * its value (at most the lock's life, then load themselves). A load that an invalidation overtook
 * does not store what it read. When the store fails, the source answers: the cache is never the
 * source of truth, and never the reason a read fails. Values must be JSON; every get returns a
 * fresh copy.
 */
export class ReadThroughCache {
  readonly stats: CacheStats = { hits: 0, misses: 0, loads: 0, waited: 0, storeErrors: 0 };
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    readonly store: CacheStore,
    private readonly options: ReadThroughOptions = {},
  ) {}

  async get<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    let json = this.inFlight.get(key);
    if (!json) {
      json = this.fetch(key, ttlMs, load).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, json);
    }
    return JSON.parse(await json) as T;
  }

  /** Drops the keys (after the change they describe has committed). */
  async invalidate(keys: string[]): Promise<void> {
    await this.safely(() => this.store.invalidate(keys));
  }

  async invalidatePrefix(prefix: string): Promise<void> {
    await this.safely(() => this.store.invalidatePrefix(prefix));
  }

  private async fetch<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<string> {
    const cached = await this.safely(() => this.store.get(key));
    if (cached !== undefined) {
      this.stats.hits += 1;
      return cached;
    }
    this.stats.misses += 1;
    const lockTtlMs = this.options.lockTtlMs ?? 5_000;
    // A store that fails cannot arbitrate: load.
    const locked = (await this.safely(() => this.store.tryLock(key, lockTtlMs))) ?? true;
    if (!locked) {
      const answered = await this.waitForOthers(key, lockTtlMs);
      if (answered !== undefined) return answered;
    }
    try {
      // Another process may have stored it between our miss and our lock.
      const stored = locked ? await this.safely(() => this.store.get(key)) : undefined;
      if (stored !== undefined) {
        this.stats.waited += 1;
        return stored;
      }
      const generation = await this.safely(() => this.store.generation(key));
      const json = JSON.stringify(await load());
      this.stats.loads += 1;
      if (generation !== undefined) await this.safely(() => this.store.setIfGeneration(key, json, ttlMs, generation));
      return json;
    } finally {
      if (locked) await this.safely(() => this.store.unlock(key));
    }
  }

  private async waitForOthers(key: string, lockTtlMs: number): Promise<string | undefined> {
    const deadline = Date.now() + lockTtlMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.options.waitStepMs ?? 20));
      const value = await this.safely(() => this.store.get(key));
      if (value !== undefined) {
        this.stats.waited += 1;
        return value;
      }
    }
    return undefined;
  }

  private async safely<T>(operation: () => Promise<T>): Promise<T | undefined> {
    try {
      return await operation();
    } catch (error) {
      this.stats.storeErrors += 1;
      this.options.onStoreError?.(error as Error);
      return undefined;
    }
  }
}
